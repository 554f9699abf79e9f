"""Configuration, the local stack launcher and the `chirp` command line."""
