"""From records to tables: statistics (`stats`), the comparison, sweep and probe tables (`tables`, `probe_tables`,
`protocol_tables`), the models' costs compared (`cost_tables`), the data's description (`eda`), learning-curve tables
(`curves`), the costs of a run (`costs`) and the methods tables (`findings`). The prose over these numbers is the
paper's (`convlab.paper`: its text and each notebook's findings paragraph).

May import every package below it (`study`, `store`, `datasets`, `training`, `experiments`); it trains nothing.
"""
