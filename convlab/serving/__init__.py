"""SageMaker: the model artifact and the staged training source (`artifact`), training jobs (`cloud`), the image URIs
(`images`), a run's trainings as parallel jobs (`jobs`), the local endpoint and client (`endpoint`, `client`), the
serving container's conformance (`container`, `tfserving_standin`, `frontend_launcher`), the real endpoint
(`aws_endpoint`), what a serving run did, as tables (`summary`), and the scripts that run inside AWS
(`sagemaker_entry/`).

May import `study`, `store`, `datasets` and `training`.
"""
