"""Logging from the training loops people run now, into any log
(:class:`~blocks_log.TrainingLog`, :class:`~blocks_log.SQLiteLog`,
:class:`~blocks_log.PostgreSQLLog`), Blocks' way: a row per iteration,
``status['iterations_done']``, ``epochs_done`` and ``_epoch_ends`` as
Blocks' main loop moves them.

One module per framework, each imported only when asked for (the core
needs nothing but Python):

- :mod:`blocks_log.integrations.keras`: ``LogCallback``, a Keras 3
  callback;
- :mod:`blocks_log.integrations.lightning`: ``BlocksLogger``, a Lightning
  ``Logger`` (and ``Callback``, for checkpoints);
- :mod:`blocks_log.integrations.transformers`: ``LogCallback``, a Hugging
  Face ``TrainerCallback``.

Resuming from a framework's checkpoint continues the log as a child run
(see :mod:`blocks_log.integrations.resuming`): every step appears once in
the resumed run's view, and what was logged after the checkpoint by the
training that stopped stays readable in a run of its own.

"""
