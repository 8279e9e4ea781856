"""Bulk upload: pre-sign -> PUT to object storage -> register, concurrently, one result per file.

The uploader never reports success for a file that is not registered in the
dataset, and never loses one silently: every source gets an ``UploadResult``
saying where it ended (its data id, or the stage and reason it failed).

- Pre-signing happens in batches of up to 100 files, a few batches ahead of the
  PUTs (enough that the next batch's URLs are there before the PUT slots run
  dry, never the whole list); a URL that is about to expire, or that storage
  refuses with 403, is pre-signed again.
- PUTs stream each file with ``Content-Length`` (S3 refuses chunked bodies),
  carry no ``Authorization`` header (the API key never goes to storage), and are
  retried on 5xx and connection errors with the client's ``RetryPolicy``,
  honouring storage's ``Retry-After``.
- Registration uses ``batchAddData``, one call per batch of up to 100, run
  while later batches PUT (it never holds a PUT slot); a batch refused for one
  file is split in halves until the bad file fails alone, so one unsupported
  file costs a few calls, not its neighbours. A refusal of the target itself
  (dataset not found, 401/403, licence) stops the run at once. After an
  ambiguous failure the batch's files are looked up in the target and only
  those not found are registered again; a file nobody could settle is
  ``maybe_registered``, never plain failed (``_register``, ``_reconcile``).
- Every source is checked before the first request and a bad one fails alone
  (``_checks``); each PUT sends exactly the declared size (``SizedBody``).
- With a manifest (bound to the client's base URL and the target), each
  file's outcome is journaled as it happens, so rerunning an interrupted
  upload with the same manifest skips what is done and registers nothing twice.
- ``api_concurrency`` caps the API calls in flight (pre-signs, registrations,
  lookups); the client's rate limiter decides when each may go.

Example::

    async with AsyncBasicAI() as client:
        report = await client.uploader().upload(dataset_id, Path("images").glob("*.jpg"))
        report.raise_for_failures()

- Any number of sources: they are taken lazily, a window at a time
  (``_feed``); past ``KEEP_RESULTS`` files the report keeps counts and the
  files not registered (each registered one comes as a ``FileDone`` event and
  is in the manifest); look-ups list only past a high-water mark once ids are
  seen to ascend (``_highwater``).

Modules: ``_report`` (results, report, tally), ``_run`` (the state of one
run), ``_uploader`` (the entry point), ``_feed`` (sources in windows:
checked, resumed, batched), ``_batch`` (the pipeline of batches and PUT
workers), ``_urls`` (URL renewal), ``_put`` (the storage PUT), ``_register``
(registration: halving, aborting, reconciling), ``_reconcile`` (the look-up
and its name rule), ``_highwater`` (where a look-up may start), ``_checks``
(argument and source checks, duplicate names), ``_resume`` (manifest resume).
"""

from ._report import KEEP_RESULTS, UploadReport, UploadResult
from ._run import UploadClient
from ._uploader import Uploader

__all__ = ["KEEP_RESULTS", "UploadClient", "UploadReport", "UploadResult", "Uploader"]
