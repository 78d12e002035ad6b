"""What a serving run did, as tables (dicts that a notebook shows as two-column tables): which front end answered
(`front_end`), the local run's record (`local_run`), and the run in mode aws (`aws_run`)."""

from __future__ import annotations

from collections.abc import Sequence


def front_end(endpoint) -> dict[str, str]:
    """Which front end answered, and why the container's did not where the fallback did."""
    reason = getattr(endpoint, "fallback_reason", "")
    return {"served by": endpoint.front_end} | ({"why not the container's front end": reason} if reason else {})


def local_run(record: dict) -> dict[str, object]:
    """The local serving record's measurements: the served model against the model in memory, the timings and the
    bad requests."""
    comparison, serving = record["comparison"], record["serving"]
    summary = {"served by": record["front_end"]} if record.get("front_end") else {}
    return summary | {
        "test images": comparison["images"],
        "served accuracy (%)": comparison["served accuracy (%)"],
        "accuracy in memory (%)": comparison["in-process accuracy (%)"],
        "same class for every image": "yes" if comparison["same predicted class for every image"] else "no",
        "largest probability difference": f"{comparison['largest probability difference']:.1e}",
        "single image, median (ms)": serving["single_p50_ms"],
        "single image, 99th percentile (ms)": serving["single_p99_ms"],
        "single-image requests timed": serving["repeats"],
        f"images per second in batches of {serving['batch_size']}": serving["batch_images_per_second"],
        "bad requests refused with a 4xx status": refused(
            record["bad_requests"], lambda row: 400 <= row["status"] < 500, lambda row: row["status"]
        ),
    }


def aws_run(result: dict) -> dict[str, object]:
    """What mode aws measured: the training job, the endpoint that served its artifact, accuracy and latency through
    the endpoint, the bad requests and what was deleted afterwards."""
    job = result["training_job"]
    summary = {
        "training job": job["job"],
        "training job status": job["status"],
        "artifact": job["artifact_uri"],
        "endpoint": result["names"]["endpoint"],
        "test images classified through the endpoint": result["images"],
        "accuracy (%)": round(100 * result["accuracy"], 2),
        "single image, median (ms, network included)": result["single_ms_p50"],
        "single image, 99th percentile (ms, network included)": result["single_ms_p99"],
    }
    if result.get("bad_requests"):
        summary["bad requests answered by ModelError with the container's 4xx status"] = refused(
            result["bad_requests"],
            lambda row: row["error"] == "ModelError" and 400 <= (row["status"] or 0) < 500,
            lambda row: row["status"],
        )
    deleted = [item["resource"] for item in result["clean_up"] if item["deleted"]]
    left = [
        f"{item['resource']} ({item['error']}; {item['delete it with']})" for item in result["clean_up"] if not item["deleted"]
    ]
    summary["deleted afterwards"] = ", ".join(deleted) or "nothing"
    if left:
        summary["NOT deleted"] = "; ".join(left)
    return summary


def refused(rows: Sequence[dict], counted, status) -> str:
    """ "3 of 5 (400, 415)": the rows `counted` holds for, of all, with their statuses."""
    chosen = [row for row in rows if counted(row)]
    statuses = ", ".join(map(str, sorted({status(row) for row in chosen})))
    return f"{len(chosen)} of {len(rows)}" + (f" ({statuses})" if statuses else "")
