"""The data: the official files' names, shapes and checksums (`specs`), reading the IDX files (`datafiles`), the
splits a run trains and tests on (`data`) and the transforms applied to images (`transforms`).

May import `study` and `store`.
"""
