"""Claims in bulk: files of dispensing claims evaluated record by record (``rxpolicy batch``), synthetic claims
(``rxpolicy claims synth``).

:func:`rxpolicy.bulk.core.evaluate_records` is the record-level core (records in, result rows out, no files);
:mod:`.records` reads claims files in chunks, :mod:`.output` writes result partitions atomically,
:mod:`.run` ties them together for one run, :mod:`.synth` generates claims. Needs the ``batch`` extra
(pyarrow, tqdm): ``pip install 'rxpolicy[batch]'``.
"""
