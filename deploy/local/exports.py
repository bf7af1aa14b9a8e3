"""The export phase of a school's year: the livret and each class's files, and the LSU/LSL API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from deploy.local.http_client import Answer
from deploy.local.retrying import SAFE
from deploy.local.schools import School


class ExportSteps:
    """``Run``'s export steps (mixed into ``Run``, deploy/local/steps.py: ``self.call``, ``self.urls``… are its)."""

    async def collect_exports(self, school: School) -> int:
        """Wait for every result in the livret, then fetch it and each class's files; classes fetched."""
        divisions = sorted({c["division"] for s in school.sessions for c in s["candidates"]})
        started = school.summary.get("started", 0)

        # the livret shows instants to the millisecond
        resat = {
            ine: (at := datetime.fromisoformat(text)).replace(microsecond=at.microsecond // 1000 * 1000)
            for ine, text in school.summary.get("resat", {}).items()
        }

        async def livret_complete() -> dict[str, Any] | None:
            """Every candidate who started has a result, published (the sandbox's class CSV comes first),
            and the catch-up's result of who re-sat after aborting (the latest test wins)."""
            reply = await self.http["export"].get(f"/schools/{school.uai}/livret.json")
            if reply.status_code != 200:
                return None
            certifications = reply.json()["data"]["attributes"]["certifications"]
            # the class CSV carries no verification code: a result is whole once the livret JSON
            # that follows it gave one (otherwise the copy read here differs from run to run)
            published = all(c["status"] != "pending" and c.get("verificationCode") for c in certifications)
            taken = {c["nationalStudentId"]: datetime.fromisoformat(c["date"]) for c in certifications}
            latest = all(ine in taken and taken[ine] >= at for ine, at in resat.items())
            return reply.json() if len(certifications) >= started and published and latest else None

        livret = await self.wait(f"{school.uai}: results to reach the livret", livret_complete, seconds=600)
        target = self.output / "http" / school.uai
        target.mkdir(parents=True, exist_ok=True)
        (target / "livret.json").write_text(
            json.dumps(livret, ensure_ascii=False, indent=1), encoding="utf-8"
        )
        for division in divisions:
            # the export is eventually consistent: a class appears once its roster and results both arrived
            async def class_csv(d: str = division) -> Answer | None:
                reply = await self.http["export"].get(f"/schools/{school.uai}/classes/{d}/results.csv")
                return reply if reply.status_code == 200 else None

            csv = await self.wait(f"{school.uai}: the class results CSV of {division}", class_csv)
            (target / f"resultats_{division}.csv").write_bytes(csv.content)
            pdf = await self.call(
                "export",
                "GET",
                f"/schools/{school.uai}/classes/{division}/attestations.pdf",
                expect=tuple(range(200, 500)),
            )
            if pdf.status_code == 200:
                (target / f"attestations_{division}.pdf").write_bytes(pdf.content)
            readiness = (
                await self.call("export", "GET", f"/schools/{school.uai}/classes/{division}/readiness")
            ).json()
            school.summary.setdefault("readiness", {})[division] = readiness
        certs = livret["data"]["attributes"]["certifications"]
        statuses = {
            s: sum(1 for c in certs if c["status"] == s) for s in ("validated", "rejected", "pending")
        }
        school.summary["livret"] = statuses
        self.log(
            f"  {school.uai}: livret with {len(certs)} certifications {statuses}; {len(divisions)} class CSV(s)"
        )
        return len(divisions)

    async def livret_api(self, uai: str, client_id: str, secret: str) -> int:
        token = (
            await self.call(
                "export",
                "POST",
                "/api/application/token",
                public=True,
                resend=SAFE,  # a second token is as good as the first
                data={
                    "grant_type": "client_credentials",
                    "client_id": client_id,
                    "client_secret": secret,
                    "scope": "organizations-certifications-result",
                },
            )
        ).json()["access_token"]
        feed = (
            await self.call(
                "export",
                "GET",
                f"/api/organizations/{uai}/certifications",
                public=True,
                headers={"Authorization": f"Bearer {token}"},
            )
        ).json()
        return len(feed["data"]["attributes"]["certifications"])
