"""Models and their training: the architectures and their cost (`models`), seeded deterministic training and the reuse
of stored runs (`fit`), the arithmetic a run trains in (`precision`), training several runs side by side
(`workers`), and a training as a request that another machine runs (`requests`).

May import `study`, `store` and `datasets`.
"""
