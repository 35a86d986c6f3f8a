"""A Keras 3 callback that logs training into a blocks_log log.

::

    from blocks_log import SQLiteLog
    from blocks_log.integrations.keras import LogCallback

    log = SQLiteLog('runs.sqlite')
    model.fit(x, y, epochs=2, validation_data=(vx, vy),
              callbacks=[LogCallback(log)])

Each training batch is an iteration: ``status['iterations_done']`` grows
by one and the batch's logs (Keras' running means over the epoch) go to
``current_row``. At an epoch's end, ``epochs_done`` and ``_epoch_ends``
move as in Blocks' main loop, and the epoch's metrics, validation
included (``val_loss``...), go to the row of its last batch.

To resume from a checkpoint, keep ``checkpoint_state(callback.training_log)``
with the model, and start the new ``fit`` with
``LogCallback(resumed_log(log, state))`` (both of
:mod:`blocks_log.integrations.resuming`; see README.rst).

"""
import keras

from blocks_log.integrations.values import end_epoch, log_values


class LogCallback(keras.callbacks.Callback):
    """Log each batch and each epoch of ``fit`` into `log`.

    Parameters
    ----------
    log : blocks_log.log.TrainingLogBase
        Where to log (any backend). Flushed at the end of each epoch and of
        training; never closed.

    Attributes
    ----------
    training_log : blocks_log.log.TrainingLogBase

    """
    def __init__(self, log):
        super(LogCallback, self).__init__()
        self.training_log = log

    def on_train_batch_end(self, batch, logs=None):
        self.training_log.status['iterations_done'] += 1
        log_values(self.training_log.current_row, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        end_epoch(self.training_log)
        log_values(self.training_log.current_row, logs or {})
        self.training_log.flush()

    def on_train_end(self, logs=None):
        self.training_log.flush()
