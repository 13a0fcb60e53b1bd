"""Front-end glue shared by the window and the command line: folder batches, the text
progress bar, install-desktop, the self-test, resource lookup and the frozen app's numba
cache locator. Above ops/, below ui/ and cli.py."""
