"""One package per framework flavor (save/load format, pyfunc loader, autolog)."""
