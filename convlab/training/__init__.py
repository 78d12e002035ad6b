"""Models and their training: the architectures and their cost (`models`), seeded deterministic training and the reuse
of stored runs (`fit`), the arithmetic a run trains in (`precision`), and training several runs side by side
(`workers`).

May import `study`, `store` and `datasets`.
"""
