from services.export.app import definition
from shared.service import run

run(definition)
