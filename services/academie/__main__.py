from services.academie.app import definition
from shared.service import run

run(definition)
