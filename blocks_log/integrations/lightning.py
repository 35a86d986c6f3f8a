"""A Lightning logger (and callback) that logs training into a blocks_log
log.

::

    from blocks_log import SQLiteLog
    from blocks_log.integrations.lightning import BlocksLogger

    logger = BlocksLogger(SQLiteLog('runs.sqlite'))
    trainer = lightning.Trainer(logger=logger, callbacks=[logger])
    trainer.fit(model, data)

As a ``Logger``: ``log_metrics(metrics, step)`` writes the row of the
iteration `step` is in: ``step + 1``, as Lightning counts steps from 0 and
Blocks the iterations done (so that the metrics of an epoch's last batch,
validation included, are in the row ``_epoch_ends`` names);
``log_hyperparams`` puts the hyperparameters in
``status['hyperparameters']``, typed (numbers stay numbers); ``save`` and
``finalize`` flush. Its ``version`` is the uuid of
the run it writes now.

As a ``Callback`` (pass it in ``callbacks`` too): ``iterations_done``
follows the trainer's steps, ``epochs_done`` and ``_epoch_ends`` its
epochs, and each checkpoint keeps the log's place, so that
``trainer.fit(model, data, ckpt_path=...)`` goes on in a child run of the
run the checkpoint holds: every step appears once in the resumed run's
view. Without it, a resumed fit writes over the rows of the same run.

Works with the ``lightning`` package and with ``pytorch_lightning``.

"""
import argparse

from blocks_log.integrations import resuming
from blocks_log.integrations.values import end_epoch, log_values, plain

try:
    from lightning.pytorch.callbacks import Callback
    from lightning.pytorch.loggers.logger import Logger
except ImportError:  # the standalone package
    from pytorch_lightning.callbacks import Callback
    from pytorch_lightning.loggers.logger import Logger


class BlocksLogger(Logger, Callback):
    """Lightning's metrics, hyperparameters and checkpoints, into `log`.

    Parameters
    ----------
    log : blocks_log.log.TrainingLogBase
        Where to log (any backend). Never closed by the logger, but when a
        resumed fit replaces it (see :attr:`training_log`).

    Attributes
    ----------
    training_log : blocks_log.log.TrainingLogBase
        The log written now: after a fit resumed from a checkpoint, the
        child run that goes on from it.

    """
    def __init__(self, log):
        super(BlocksLogger, self).__init__()
        # Not `log`: Lightning gives its callbacks the module's log().
        self.training_log = log

    # Logger.

    @property
    def name(self):
        """``'blocks_log'``."""
        return 'blocks_log'

    @property
    def version(self):
        """The hex uuid of the run written now."""
        return self.training_log.h_uuid

    @property
    def experiment(self):
        """The log itself."""
        return self.training_log

    def log_metrics(self, metrics, step=None):
        """Write `metrics` into the row ``step + 1`` (the current row when
        `step` is ``None``); Lightning's ``epoch`` entry is left out (the
        status counts epochs)."""
        log = self.training_log
        row = log.current_row if step is None else log[int(step) + 1]
        log_values(row, metrics, skip=('epoch',))

    def log_hyperparams(self, params, *args, **kwargs):
        """Put `params` (a dict or ``argparse.Namespace``) into
        ``status['hyperparameters']``: numbers, strings, booleans, ``None``
        and lists and dicts of them as they are; other objects as their
        ``repr``."""
        if isinstance(params, argparse.Namespace):
            params = vars(params)
        status = self.training_log.status
        hyperparameters = dict(status.get('hyperparameters') or {})
        hyperparameters.update((str(name), _typed(value))
                               for name, value in dict(params).items())
        status['hyperparameters'] = hyperparameters

    def save(self):
        """Flush the log."""
        self.training_log.flush()

    def finalize(self, status):
        """Flush the log (at the end of a fit, whatever its `status`)."""
        self.training_log.flush()

    # Callback.

    def on_train_batch_end(self, trainer, pl_module, outputs, batch,
                           batch_idx):
        self.training_log.status['iterations_done'] = trainer.global_step

    def on_train_epoch_end(self, trainer, pl_module):
        end_epoch(self.training_log)

    def state_dict(self):
        """The log's place, kept in each checkpoint (see
        :func:`blocks_log.integrations.resuming.checkpoint_state`); the
        live log goes on in a child run."""
        return resuming.checkpoint_state(self.training_log)

    def load_state_dict(self, state_dict):
        """Go on from a checkpoint's place: :attr:`training_log` becomes a
        new child run of the run it holds."""
        self.training_log = resuming.resumed_log(self.training_log,
                                                 dict(state_dict))


def _typed(value):
    value = plain(value)
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [_typed(item) for item in value]
    if isinstance(value, dict):
        return dict((str(name), _typed(item)) for name, item in value.items())
    return repr(value)
