"""The prose of notebook 06: the serving front-end, the endpoint's record and the run on AWS."""

from __future__ import annotations


def describe_front_end(endpoint) -> str:
    """Which front-end answered, and why the container's did not where the fallback did."""
    reason = getattr(endpoint, "fallback_reason", "")
    return f"Served by {endpoint.front_end}." + (f" The container's front-end did not run here: {reason}" if reason else "")


def describe_serving(record: dict) -> str:
    """What the local serving run showed, in a few sentences that follow its numbers."""
    comparison, serving = record["comparison"], record["serving"]
    same = comparison["same predicted class for every image"]
    statuses = sorted({row["status"] for row in record["bad_requests"]})
    all_refused = all(400 <= row["status"] < 500 for row in record["bad_requests"])
    served_by = f"Front-end: {record['front_end']}. " if record.get("front_end") else ""
    return served_by + (
        f"Served over HTTP, the model classified {comparison['images']} test images with accuracy "
        f"{comparison['served accuracy (%)']:.2f}% against {comparison['in-process accuracy (%)']:.2f}% in this process; "
        + ("it predicted the same class for every image" if same else "**the predicted classes differ for some images**")
        + f" (largest probability difference {comparison['largest probability difference']:.1e}). "
        f"Single-image requests took {serving['single_p50_ms']:.1f} ms (median) and {serving['single_p99_ms']:.1f} ms "
        f"(99th percentile) over {serving['repeats']} requests; batches of {serving['batch_size']} went through at "
        f"{serving['batch_images_per_second']:.0f} images/s. "
        + (
            f"All {len(record['bad_requests'])} bad requests were refused with a 4xx status "
            f"({', '.join(map(str, statuses))}), and the endpoint kept serving: the timings above were taken after them."
            if all_refused
            else "**Some bad requests were not refused with a 4xx status**: see the table above."
        )
    )


def describe_aws_run(result: dict) -> str:
    """One paragraph on what mode aws measured."""
    job = result["training_job"]
    return (
        f"Training job `{job['job']}` ended as {job['status']}; its artifact `{job['artifact_uri']}` was served by "
        f"endpoint `{result['names']['endpoint']}`. Through the endpoint, {result['images']} test images were classified "
        f"with accuracy {100 * result['accuracy']:.2f}%; single-image requests took {result['single_ms_p50']:.1f} ms "
        f"(median) and {result['single_ms_p99']:.1f} ms (99th percentile) from this machine, network included. "
        + _bad_requests_sentence(result.get("bad_requests", []))
        + "Deleted afterwards: "
        + ", ".join(
            f"{item['resource']} yes"
            if item["deleted"]
            else f"{item['resource']} **NO** ({item['error']}; `{item['delete it with']}`)"
            for item in result["clean_up"]
        )
        + "."
    )


def _bad_requests_sentence(rows: list[dict]) -> str:
    if not rows:
        return ""
    refused = [row for row in rows if row["error"] == "ModelError" and 400 <= row["status"] < 500]
    statuses = sorted({row["status"] for row in refused})
    return (
        f"Of {len(rows)} bad requests, {len(refused)} came back as ModelError with the container's 4xx status "
        f"({', '.join(map(str, statuses)) or 'none'}) as OriginalStatusCode. "
    )
