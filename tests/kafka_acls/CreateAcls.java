// Adds ALLOW ACLs to a Kafka cluster with Kafka's own Admin client (tests/secure_infra.py runs it as
// a single-file program on the broker's class path: the jars deploy/local fetched hold no kafka-acls
// command). Arguments: the bootstrap address, then one "user|resourceType|name|patternType|operation"
// per rule, e.g. "certibus-scheduler-kafka|TOPIC|certibus.scheduler|LITERAL|WRITE".
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class CreateAcls {
    public static void main(String[] args) throws Exception {
        Properties properties = new Properties();
        properties.put("bootstrap.servers", args[0]);
        List<AclBinding> bindings = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String[] f = args[i].split("\\|");
            ResourcePattern resource =
                    new ResourcePattern(ResourceType.valueOf(f[1]), f[2], PatternType.valueOf(f[3]));
            AccessControlEntry entry = new AccessControlEntry(
                    "User:" + f[0], "*", AclOperation.valueOf(f[4]), AclPermissionType.ALLOW);
            bindings.add(new AclBinding(resource, entry));
        }
        try (Admin admin = Admin.create(properties)) {
            admin.createAcls(bindings).all().get();
        }
    }
}
