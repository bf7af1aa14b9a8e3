from services.scheduler.app import definition
from shared.service import run

run(definition)
