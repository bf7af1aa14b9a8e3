"""The local infrastructure without Docker (deploy/local/infra.py is its entry point).

Standard library only: it runs with the system python3, before (and without) the project's virtualenv.
config (ports, paths), processes (pids, ports, logs), kafka, postgres, envfile, cli (the commands).
"""
