"""The qlab client: submit sweeps, wait for them, read results, from a script or a notebook.

    import qlab
    client = qlab.Client()                      # QLAB_SERVER, QLAB_TOKEN, QLAB_TLS_CA
    experiment = client.submit("experiments/datatype-sweep.yaml").wait()
    frame = experiment.to_pandas()

Every call goes to the coordinator over gRPC (the same services as the `qlab` CLI); rows come
back shaped exactly as `qlab results --json` prints them. Failures raise `qlab.QlabError`
subclasses carrying the gRPC status and the server's message.
"""
import json
import os
import sys
import time

import grpc

from . import errors
from .rows import JoinedRows, Rows, json_number, parse_params
from .study import fill_study_genes
from .sweep import load_sweep, sweep_to_json
from .v1 import common_pb2, job_service_pb2, job_service_pb2_grpc, result_service_pb2
from .v1 import result_service_pb2_grpc, worker_service_pb2, worker_service_pb2_grpc

DEFAULT_ADDRESS = "127.0.0.1:7070"
_MAX_MESSAGE_BYTES = 256 << 20  # the CLI's limit: a 100k-row results page fits


def state_name(state):
    """'SUCCEEDED' for JOB_STATE_SUCCEEDED: the names `qlab results --json` prints."""
    return common_pb2.JobState.Name(state).replace("JOB_STATE_", "")


def _parse_state(name):
    try:
        return common_pb2.JobState.Value("JOB_STATE_" + name.upper())
    except ValueError:
        raise errors.InvalidArgument(
            f"state must be one of pending, leased, running, succeeded, failed, cancelled, "
            f"not '{name}'") from None


def _metrics(metric_messages):
    return {m.name: json_number(m.value) for m in metric_messages}


def _direction(name, field):
    directions = {"auto": result_service_pb2.ParetoRequest.DIRECTION_UNSPECIFIED,
                  "min": result_service_pb2.ParetoRequest.DIRECTION_MINIMIZE,
                  "max": result_service_pb2.ParetoRequest.DIRECTION_MAXIMIZE}
    if name not in directions:
        raise errors.InvalidArgument(f"{field} must be min, max or auto, not '{name}'")
    return directions[name]


def _device_dict(d):
    return {"name": d.name, "device_class": common_pb2.DeviceClass.Name(d.device_class)
            .replace("DEVICE_CLASS_", "").lower(), "model": d.model,
            "memory_bytes": d.memory_bytes, "cores": d.cores, "driver": d.driver,
            "compute_capability": d.compute_capability, "clock_mhz": d.clock_mhz}


class Client:
    """A connection to one coordinator.

    address: HOST:PORT of its gRPC listener (default: env QLAB_SERVER, else 127.0.0.1:7070).
    token: bearer token sent with every call (default: env QLAB_TOKEN; none when unset).
    ca: PEM file of the CA that signed the server's certificate; given, the channel uses TLS
        (default: env QLAB_TLS_CA; plaintext when unset).
    timeout: seconds each unary call may take.
    """

    def __init__(self, address=None, token=None, ca=None, timeout=120.0):
        self.address = address or os.environ.get("QLAB_SERVER") or DEFAULT_ADDRESS
        token = token if token is not None else os.environ.get("QLAB_TOKEN")
        ca = ca if ca is not None else os.environ.get("QLAB_TLS_CA")
        self.timeout = timeout
        self._metadata = (("authorization", f"Bearer {token.strip()}"),) if token else ()
        options = [("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES)]
        if ca:
            with open(ca, "rb") as f:
                credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
            self._channel = grpc.secure_channel(self.address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(self.address, options=options)
        self._jobs = job_service_pb2_grpc.JobServiceStub(self._channel)
        self._results = result_service_pb2_grpc.ResultServiceStub(self._channel)
        self._workers = worker_service_pb2_grpc.WorkerServiceStub(self._channel)

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"qlab.Client({self.address!r})"

    # ---- plumbing -------------------------------------------------------------------------

    def _call(self, method, request, invalid_argument=errors.InvalidArgument, timeout=None):
        try:
            return method(request, timeout=timeout or self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e, invalid_argument) from None

    def _stream(self, method, request):
        try:
            yield from method(request, metadata=self._metadata)
        except grpc.RpcError as e:
            raise errors.from_rpc_error(e) from None

    # ---- experiments ------------------------------------------------------------------------

    def submit(self, sweep, name=None, dry_run=False, owner=None):
        """Submits a sweep: a dict, or the path of a YAML or JSON sweep file (DESIGN §10).

        name overrides the sweep's own name. With dry_run the coordinator validates and counts
        the jobs and stores nothing; the returned Experiment then has id 0. Raises InvalidSweep
        (with the field named) when the coordinator refuses the sweep.
        """
        spec = load_sweep(sweep)
        if name is not None:
            spec["name"] = name
        try:
            fill_study_genes(spec, sweep if isinstance(sweep, (str, os.PathLike)) else None)
        except (OSError, ValueError) as e:
            raise errors.InvalidSweep(f"search.space: {e}") from None
        request = job_service_pb2.SubmitExperimentRequest(
            sweep_json=sweep_to_json(spec), dry_run=dry_run,
            owner=owner if owner is not None else os.environ.get("USER", ""))
        response = self._call(self._jobs.SubmitExperiment, request,
                              invalid_argument=errors.InvalidSweep, timeout=max(self.timeout, 300))
        return Experiment(self, response.name, response.experiment_id, response.job_count,
                          response.first_job_id, response.study_trials)

    def study(self, name):
        """A study's report (`qlab study NAME --json`): progress, front, hypervolume, every
        trial. Raises NotFound when the experiment is not a study."""
        response = self._call(self._jobs.GetStudy, job_service_pb2.GetStudyRequest(experiment=name))
        return json.loads(response.study_json)

    def experiment(self, name):
        """A handle on an existing experiment. Raises NotFound."""
        e = self._call(self._jobs.GetExperiment, job_service_pb2.GetExperimentRequest(name=name))
        return Experiment(self, e.name, e.id, e.total_jobs, 0)

    def experiments(self):
        """Every experiment with its job counts by state."""
        response = self._call(self._jobs.ListExperiments,
                              job_service_pb2.ListExperimentsRequest())
        return Rows(_experiment_dict(e) for e in response.experiments)

    # ---- jobs -------------------------------------------------------------------------------

    def jobs(self, experiment=None, state=None, kind=None, limit=None):
        """Jobs, newest first, optionally of one experiment, state ('pending', ...) and kind.

        Pages through the server's listing; limit caps the number of rows (None: all).
        """
        request = job_service_pb2.ListJobsRequest(
            experiment=experiment or "", kind=kind or "",
            state=_parse_state(state) if state else common_pb2.JOB_STATE_UNSPECIFIED,
            page_size=min(limit, 1000) if limit else 1000)
        rows = Rows()
        while True:
            response = self._call(self._jobs.ListJobs, request)
            for job in response.jobs:
                rows.append(_job_dict(job))
                if limit is not None and len(rows) >= limit:
                    return rows
            if not response.next_page_token:
                return rows
            request.page_token = response.next_page_token

    def job(self, job_id):
        """One job as `qlab show ID --json` prints it, plus its attempt history. Raises NotFound."""
        job = self._call(self._jobs.GetJob, job_service_pb2.GetJobRequest(job_id=int(job_id)))
        row = _job_dict(job)
        row["metrics"] = _metrics(job.metrics)
        row["attempt_history"] = [
            {"fencing_token": a.fencing_token, "worker_id": a.worker_id,
             "leased_unix_ms": a.leased_unix_ms, "started_unix_ms": a.started_unix_ms,
             "finished_unix_ms": a.finished_unix_ms, "outcome": a.outcome, "error": a.error,
             "failure_class": a.failure_class, "log_bytes": a.log_bytes}
            for a in job.attempt_history]
        return row

    def logs(self, job_id, attempt=0):
        """What attempt `attempt` (1-based; 0 = the latest) of a job's evaluator printed, as
        `qlab logs` shows it: {"attempt", "attempts", "outcome", "failure_class", "log"}.
        Raises NotFound for a job that has not run, InvalidArgument for an attempt it lacks."""
        resp = self._call(self._jobs.GetJobLog,
                          job_service_pb2.GetJobLogRequest(job_id=int(job_id), attempt=int(attempt)))
        return {"attempt": resp.attempt, "attempts": resp.attempts, "outcome": resp.info.outcome,
                "failure_class": resp.info.failure_class,
                "log": resp.log.decode("utf-8", errors="replace")}

    def cancel(self, job_id=None, experiment=None):
        """Cancels one job, or every unfinished job of an experiment; returns how many."""
        if (job_id is None) == (experiment is None):
            raise errors.InvalidArgument("give exactly one of job_id and experiment")
        request = job_service_pb2.CancelJobRequest(
            job_id=int(job_id) if job_id is not None else 0, experiment=experiment or "")
        return self._call(self._jobs.CancelJob, request).cancelled_count

    # ---- results ----------------------------------------------------------------------------

    def results(self, experiment, filter="", join=None, on=None):
        """One row per job of the experiment, exactly as `qlab results --json` prints them.

        filter: the server's filter expression, e.g. "datatype in (e2m1, nf4) and mse < 0.01".
        join, on: pair the rows with those of experiment `join` whose `on` params ("a,b" or a
        list) are equal, as `qlab results --join --on --json` does: JoinedRows, whose rows are
        the pairs and whose unmatched_a / unmatched_b list the rows without a partner.
        """
        if join is not None or on is not None:
            return self._joined_results(experiment, filter, join or "", on)
        rows = Rows()
        request = result_service_pb2.QueryResultsRequest(experiment=experiment, filter=filter)
        while True:
            response = self._call(self._results.QueryResults, request)
            for r in response.rows:
                row = {"job_id": r.job_id, "experiment": r.experiment, "kind": r.kind,
                       "state": state_name(r.state), "params": parse_params(r.params_json),
                       "metrics": _metrics(r.metrics)}
                if r.last_error and r.state == common_pb2.JOB_STATE_FAILED:
                    row["error"] = r.last_error
                row.update({"comparability_key": r.comparability_key,
                            "environment_key": r.environment_key, "backend": r.backend,
                            "flag": r.flag})
                rows.append(row)
            if not response.next_page_token:
                return rows
            request.page_token = response.next_page_token

    def _joined_results(self, experiment, filter, join, on, keys_policy=""):
        keys = [k.strip() for k in on.split(",")] if isinstance(on, str) else list(on or [])
        request = result_service_pb2.QueryResultsRequest(
            experiment=experiment, filter=filter, join=join, on=keys, keys=keys_policy)
        response = self._call(self._results.QueryResults, request)

        def unmatched(rows):
            return [{"job_id": r.job_id, "state": state_name(r.state), "on": parse_params(r.on_json)}
                    for r in rows]

        return JoinedRows(
            ({"on": parse_params(r.on_json), "job_id_a": r.job_id_a, "job_id_b": r.job_id_b,
              "state_a": state_name(r.state_a), "state_b": state_name(r.state_b),
              "metrics": _metrics(r.metrics), "environment_key_a": r.environment_key_a,
              "environment_key_b": r.environment_key_b} for r in response.joined_rows),
            experiment=experiment, join=join, on=keys,
            metric_names=list(response.joined_metric_names),
            unmatched_a=unmatched(response.unmatched_a), unmatched_b=unmatched(response.unmatched_b))

    def pareto(self, experiment, x, y, x_dir="auto", y_dir="auto", filter="", all_points=False):
        """Non-dominated points over metrics x and y, as `qlab pareto --json` prints them.

        Directions min|max|auto (auto: the metric's own higher_is_better). all_points also
        returns the dominated points (on_frontier False). Rows are ordered by x.
        """
        request = result_service_pb2.ParetoRequest(
            experiment=experiment, x_metric=x, y_metric=y, filter=filter,
            x_direction=_direction(x_dir, "x_dir"), y_direction=_direction(y_dir, "y_dir"))
        response = self._call(self._results.Pareto, request)
        return Rows({"job_id": p.job_id, x: json_number(p.x), y: json_number(p.y),
                     "on_frontier": p.on_frontier, "params": parse_params(p.params_json),
                     "environment_key": p.key}
                    for p in response.points if all_points or p.on_frontier)

    def compare(self, a, b, threshold_sigma=0, include_unmoved=False):
        """The regression view of experiments a and b, as `qlab compare A B --json` prints it:
        the metrics of jobs with equal params that moved beyond their noise ("moved"), and
        what differs between the two environments ("context_diff")."""
        request = result_service_pb2.CompareRequest(
            a=a, b=b, threshold_sigma=float(threshold_sigma), include_unmoved=include_unmoved)
        return json.loads(self._call(self._results.Compare, request).compare_json)

    def dataset(self, space="nb201", device="", batch=0, experiment="", samples=False,
                as_frame=True):
        """A latency dataset, one row per measured architecture (as `qlab dataset export`).

        device: as stored, a glob ("cuda:*H100*") or a class ("cpu"); batch 0 = every batch.
        Returns a pandas DataFrame, or Rows when as_frame is False.
        """
        request = result_service_pb2.ExportDatasetRequest(
            space=space, device=device, batch=batch, experiment=experiment,
            include_samples=samples)
        rows = Rows()
        for r in self._stream(self._results.ExportDataset, request):
            row = {"arch_index": r.arch_index, "arch": r.arch, "arch_key": r.arch_key,
                   "device": r.device, "batch": r.batch, "median_us": r.median_us,
                   "p10_us": r.p10_us, "p90_us": r.p90_us, "mean_us": r.mean_us,
                   "min_us": r.min_us, "cv": r.cv, "n": r.n, "unstable": r.unstable,
                   "job_id": r.job_id}
            if samples:
                row["samples_us"] = list(r.samples_us)
            rows.append(row)
        if not as_frame:
            return rows
        frame = rows.to_pandas()
        if not rows:  # keep the columns of an empty dataset
            frame = frame.reindex(columns=["arch_index", "arch", "arch_key", "device", "batch",
                                           "median_us", "p10_us", "p90_us", "mean_us", "min_us",
                                           "cv", "n", "unstable", "job_id"])
        return frame

    def artifacts(self, job_id):
        """Names, media types and sizes of the files a job stored."""
        request = result_service_pb2.GetArtifactsRequest(job_id=int(job_id))
        response = self._call(self._results.GetArtifacts, request)
        return Rows({"name": a.name, "media_type": a.media_type, "size_bytes": a.size_bytes}
                    for a in response.artifacts)

    def artifact(self, job_id, name):
        """The bytes of one artifact a job stored (e.g. a predictor's 'predictor.json')."""
        request = result_service_pb2.GetArtifactsRequest(job_id=int(job_id), name=name,
                                                         include_content=True)
        response = self._call(self._results.GetArtifacts, request)
        if not response.artifacts:
            raise errors.NotFound(f"job {job_id} has no artifact '{name}'")
        return response.artifacts[0].content

    # ---- workers ----------------------------------------------------------------------------

    def workers(self):
        """Registered workers: devices, kinds they run, liveness and running jobs."""
        response = self._call(self._workers.ListWorkers, worker_service_pb2.ListWorkersRequest())
        return Rows({"worker_id": w.worker_id, "host": w.host, "live": w.live,
                     "draining": w.draining,
                     "last_heartbeat_unix_ms": w.last_heartbeat_unix_ms, "slots": w.slots,
                     "kinds": list(w.kinds), "running_job_ids": list(w.running_job_ids),
                     "labels": dict(w.labels), "devices": [_device_dict(d) for d in w.devices]}
                    for w in response.workers)


class Experiment:
    """A submitted sweep: its name, id and jobs; wait for it and read its results."""

    def __init__(self, client, name, experiment_id, job_count, first_job_id, study_trials=0):
        self.client = client
        self.name = name
        self.id = experiment_id
        self.job_count = job_count
        self.first_job_id = first_job_id
        # A study (a sweep with `search`): the trials it runs in all; its jobs are created as
        # its sampler proposes them, so job_count is 0 at submission.
        self.study_trials = study_trials

    def __repr__(self):
        return f"<qlab.Experiment {self.name!r} id={self.id} jobs={self.job_count}>"

    @property
    def job_ids(self):
        """Ids of the jobs created by this submission (empty for a handle or a dry run)."""
        if not self.first_job_id:
            return []
        return list(range(self.first_job_id, self.first_job_id + self.job_count))

    def status(self):
        """Job counts by state: total, pending, running, succeeded, failed, cancelled, done."""
        request = job_service_pb2.GetExperimentRequest(name=self.name)
        counts = _experiment_dict(self.client._call(self.client._jobs.GetExperiment, request))
        counts["done"] = counts["succeeded"] + counts["failed"] + counts["cancelled"]
        return counts

    def wait(self, progress=True, timeout=None, poll_s=0.5):
        """Blocks until every job has ended; returns self (so calls chain).

        progress: a tqdm bar when tqdm is installed, else a line on stderr per change.
        timeout: seconds, None = no limit; raises qlab.Timeout when it runs out. A restarting
        coordinator (UNAVAILABLE) is waited for, as `qlab submit --wait` does.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress_bar(self.name) if progress else None
        last_line = None
        try:
            while True:
                try:
                    s = self.status()
                except errors.Unavailable:
                    s = None
                if s is not None:
                    if bar is not None:
                        bar.total = s["total"]
                        bar.n = s["done"]
                        bar.set_postfix(succeeded=s["succeeded"], failed=s["failed"],
                                        running=s["running"], refresh=False)
                        bar.refresh()
                    elif progress:
                        line = (f"{self.name}: {s['done']}/{s['total']} done ({s['succeeded']} "
                                f"succeeded, {s['failed']} failed, {s['running']} running, "
                                f"{s['pending']} pending)")
                        if line != last_line:
                            print(line, file=sys.stderr, flush=True)
                            last_line = line
                    if s["done"] == s["total"]:
                        self.last_status = s
                        return self
                if deadline is not None and time.monotonic() >= deadline:
                    raise errors.Timeout(f"experiment {self.name} did not finish within {timeout} s")
                time.sleep(poll_s)
        finally:
            if bar is not None:
                bar.close()

    @property
    def succeeded(self):
        """True when every job SUCCEEDED (what `qlab submit --wait` exits 0 for)."""
        s = self.status()
        return s["succeeded"] == s["total"]

    def results(self, filter="", join=None, on=None):
        """Rows as `qlab results --experiment NAME --json`; `.to_pandas()` for a DataFrame.

        join, on: joined with another experiment (Client.results)."""
        return self.client.results(self.name, filter=filter, join=join, on=on)

    def to_pandas(self, filter=""):
        return self.results(filter=filter).to_pandas()

    def pareto(self, x, y, **kwargs):
        """Client.pareto over this experiment."""
        return self.client.pareto(self.name, x, y, **kwargs)

    def jobs(self, state=None, kind=None, limit=None):
        return self.client.jobs(experiment=self.name, state=state, kind=kind, limit=limit)

    def cancel(self):
        """Cancels every unfinished job of the experiment; returns how many."""
        return self.client.cancel(experiment=self.name)


def _job_dict(job):
    return {"job_id": job.id, "experiment": job.experiment, "kind": job.spec.kind,
            "state": state_name(job.state), "params": parse_params(job.spec.params_json),
            "attempts": job.attempts, "worker_id": job.worker_id, "last_error": job.last_error,
            "failure_class": job.failure_class, "pending_reason": job.pending_reason, "progress": job.progress,
            "created_unix_ms": job.created_unix_ms, "started_unix_ms": job.started_unix_ms,
            "finished_unix_ms": job.finished_unix_ms, "comparability_key": job.comparability_key,
            "environment_key": job.environment_key, "backend": job.backend, "flag": job.flag,
            "context": json.loads(job.context_json) if job.context_json else None}


def _experiment_dict(e):
    return {"id": e.id, "name": e.name, "kind": e.kind, "owner": e.owner,
            "created_unix_ms": e.created_unix_ms, "tags": list(e.tags), "total": e.total_jobs,
            "pending": e.pending_jobs, "running": e.running_jobs, "succeeded": e.succeeded_jobs,
            "failed": e.failed_jobs, "cancelled": e.cancelled_jobs}


def _progress_bar(name):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(desc=name, unit="job", total=0, leave=True)
