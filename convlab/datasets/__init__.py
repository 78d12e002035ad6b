"""The data: the IDX files and their checksums (`datafiles`), the splits a run trains and tests on (`data`) and the
transforms applied to images (`transforms`).

May import `study` and `store`.
"""
