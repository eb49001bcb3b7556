from safer_engine.cli import run

if __name__ == "__main__":  # importing this module (e.g. to walk the package) must not run it
    run()
