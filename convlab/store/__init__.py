"""Where results are kept: records written atomically and read back (`records`), the one rule for reusing a stored
product (`cache`), the folder lock a run holds (`locking`) and the run log (`runlog`).

May import `study`; nothing above it.
"""
