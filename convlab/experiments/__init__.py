"""The experiments beyond plain training: which configurations a study trains together and the learning curves' design
(`plans`), probes of what a trained model assumes (`probes`), its first-layer filters and their census (`filters`,
`census`), and the check of the training protocol (`protocol`).

May import `study`, `store`, `datasets` and `training`.
"""
