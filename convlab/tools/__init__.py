"""Tools beside the study: the throughput bench (`bench`, `concurrency`) and the dependency pins (`pins`).

May import anything below it; nothing imports it.
"""
