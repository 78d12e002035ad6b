"""The study itself, declared once: the notebooks and what each reads, writes and takes (`manifest`), the profiles
(`profiles`), the run's parameters parsed and checked (`config`), the project's folders (`paths`) and the original
studies' published figures (`studies.json`).

May import nothing from convlab outside itself: the ground floor, standard library only.
"""
