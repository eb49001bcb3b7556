from safer_engine.cli import run

run()
