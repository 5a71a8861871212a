"""atlas-mailbot: keeps the Atlas français de la coopération décentralisée up to date by email."""
import logging

# A library's loggers stay silent until the application configures logging (`mailbot serve` does);
# without this, Python's last-resort handler would print every warning into the commands' output.
logging.getLogger("mailbot").addHandler(logging.NullHandler())
