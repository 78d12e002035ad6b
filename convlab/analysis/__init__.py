"""From records to findings: statistics (`stats`), tables (`tables`), the data's description (`eda`), learning-curve
tables (`curves`), the costs of a run (`costs`), the methods tables (`findings`), the notebooks' generated sentences
(`narrative`, `narrative_*`) and the claims they are checked against (`claims`).

May import every package below it (`study`, `store`, `datasets`, `training`, `experiments`); it trains nothing.
"""
