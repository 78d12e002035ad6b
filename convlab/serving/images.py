"""The AWS TensorFlow image URIs of the versions mode aws uses, as a table that ships with the package.

An older SageMaker SDK, such as the 3.12.0 of SageMaker Studio's image, lists no TensorFlow 2.21 training or 2.20
serving image, and installing a newer SDK there would replace the image's boto3 and s3fs. So the URIs that the
locked SDK gives for these versions, in every region it lists and for CPU and GPU instances, are kept in
`image_uris.json`, written by that SDK (`python -m convlab.serving.images`), and `image_uri` takes a URI
from the table whenever the installed SDK does not list the version. The tests hold the table equal to the
locked SDK's answers.

The SDK is imported only in the calls that need it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

TABLE = Path(__file__).with_name("image_uris.json")
SAMPLE_INSTANCES = {"cpu": "ml.m5.large", "gpu": "ml.g5.xlarge"}  # what the SDK is asked with when writing the table


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def processor(instance_type: str) -> str:
    """cpu or gpu, by the SDK's rule for TensorFlow images: instance families g* and p* have GPUs."""
    if instance_type in ("local", "local_gpu"):
        return "cpu" if instance_type == "local" else "gpu"
    parts = instance_type.split(".")
    if len(parts) != 3 or parts[0] != "ml" or not parts[1]:
        raise ValueError(f"{instance_type!r} is not a SageMaker instance type (ml.<family>.<size>, e.g. ml.m5.large).")
    family = parts[1]
    if family.startswith(("inf", "trn")):
        raise ValueError(
            f"{instance_type} runs Neuron images, not TensorFlow's CPU or GPU ones; use an ml.m*, ml.c*, ml.g* or ml.p* instance."
        )
    return "gpu" if family[0] in ("g", "p") else "cpu"


def _image_config(scope: str) -> dict:
    from sagemaker.core import image_uris

    return image_uris.config_for_framework("tensorflow")[scope]


def available_versions(scope: str) -> list[str]:
    """The TensorFlow versions (major.minor) the installed SageMaker SDK lists for `scope`, offline, oldest first."""
    versions = set(_image_config(scope)["versions"]) | set(_image_config(scope).get("version_aliases", {}))
    return sorted({".".join(version.split(".")[:2]) for version in versions}, key=version_key)


def _py_versions(scope: str, version: str) -> list[str]:
    config = _image_config(scope)
    full = config.get("version_aliases", {}).get(version, version)
    return list(config["versions"].get(full, {}).get("py_versions", []))


def image_uri(settings, scope: str) -> str:
    """The AWS TensorFlow image for `scope` ("training" or "inference") in the region and version of `settings`
    (`cloud.AwsSettings`).

    From the installed SDK where it lists the version; else from the table written by the locked SDK
    (`images`), so that an older SDK such as Studio's 3.12.0 runs mode aws with nothing installed."""
    version = settings.training_version if scope == "training" else settings.serving_version
    instance = settings.training_instance if scope == "training" else settings.inference_instance
    if version in available_versions(scope):
        return _sdk_image_uri(settings, scope, version, instance)
    try:
        return uri(scope, version, settings.region, instance)
    except ValueError as error:
        import importlib.metadata

        parameter = "training_version" if scope == "training" else "serving_version"
        raise ValueError(
            f"No TensorFlow {version} {scope} image in SageMaker SDK {importlib.metadata.version('sagemaker')} "
            f"nor in the package's image table: {error} Versions the SDK lists for {scope}: "
            f"{', '.join(available_versions(scope)[-8:])} (parameter {parameter})."
        ) from None


def _sdk_image_uri(settings, scope: str, version: str, instance: str) -> str:
    from sagemaker.core import image_uris

    python = settings.py_version if settings.py_version in _py_versions(scope, version) else None
    try:
        return image_uris.retrieve(
            "tensorflow", settings.region, version=version, py_version=python, instance_type=instance, image_scope=scope
        )
    except ValueError as error:
        raise ValueError(f"No TensorFlow {version} {scope} image for {instance} in {settings.region}: {error}") from None


def table() -> dict:
    return json.loads(TABLE.read_text(encoding="utf-8"))


def uri(scope: str, version: str, region: str, instance_type: str) -> str:
    """The table's URI for `scope` ("training" or "inference"), TensorFlow `version` (major.minor), region and instance."""
    entries = table()["images"]
    wanted = f"{scope} {version}"
    if wanted not in entries:
        listed = ", ".join(sorted(entries))
        raise ValueError(f"The image table has no TensorFlow {version} {scope} image (it has: {listed}).")
    by_region = entries[wanted][processor(instance_type)]
    if region not in by_region:
        raise ValueError(f"No TensorFlow {version} {scope} image in {region}; regions with one: {', '.join(sorted(by_region))}.")
    return by_region[region]


def write(wanted: dict[str, str], py_version: str = "py312") -> dict:
    """The table, from the installed SDK: every region it lists for each wanted scope → version, CPU and GPU."""
    import importlib.metadata

    from sagemaker.core import image_uris

    config = image_uris.config_for_framework("tensorflow")
    images = {}
    for scope, version in wanted.items():
        full = config[scope].get("version_aliases", {}).get(version, f"{version}.0")
        regions = sorted(config[scope]["versions"][full]["registries"])
        images[f"{scope} {version}"] = {
            kind: {
                region: image_uris.retrieve(
                    "tensorflow", region, version=version, py_version=py_version, instance_type=instance, image_scope=scope
                )
                for region in regions
            }
            for kind, instance in SAMPLE_INSTANCES.items()
        }
    payload = {"written_by": f"sagemaker {importlib.metadata.version('sagemaker')}", "py_version": py_version, "images": images}
    temporary = TABLE.with_suffix(".json.part")
    temporary.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    temporary.replace(TABLE)
    return payload


def main(argv: list[str] | None = None) -> int:
    from convlab.serving import artifact

    payload = write({"training": artifact.TRAINING_IMAGE_VERSION, "inference": artifact.SERVING_IMAGE_VERSION})
    counts = {name: len(entry["cpu"]) for name, entry in payload["images"].items()}
    print(f"{TABLE.name} written by {payload['written_by']}: regions per image {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
