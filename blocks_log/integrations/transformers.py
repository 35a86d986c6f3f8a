"""A Hugging Face ``TrainerCallback`` that logs training into a blocks_log
log.

::

    from blocks_log import SQLiteLog
    from blocks_log.integrations.transformers import LogCallback

    trainer = Trainer(model=model, args=args, train_dataset=data,
                      callbacks=[LogCallback(SQLiteLog('runs.sqlite'))])
    trainer.train()

``on_log`` writes what the trainer logs (``loss``, ``learning_rate``,
``grad_norm``, ``eval_loss``...; not its fractional ``epoch``) into the row
``state.global_step``, which ``iterations_done`` follows; ``epochs_done``
and ``_epoch_ends`` move at each epoch's end as in Blocks' main loop,
counted from ``state.epoch``.

Each checkpoint the trainer saves gets a ``blocks_log.json`` (the log's
place, see :mod:`blocks_log.integrations.resuming`), and
``trainer.train(resume_from_checkpoint=...)`` goes on in a child run of
the run that checkpoint holds: every step appears once in the resumed
run's view. The log is found as the trainer names its checkpoints,
``checkpoint-<step>`` in ``args.output_dir``; a resumed training without
it goes on in the same run, with a warning.

"""
import os
import warnings

import transformers

from blocks_log.integrations import resuming
from blocks_log.integrations.values import end_epoch, log_values


class LogCallback(transformers.TrainerCallback):
    """The trainer's logs, steps and epochs, into `log`.

    Parameters
    ----------
    log : blocks_log.log.TrainingLogBase
        Where to log (any backend). Flushed at each log, save and at the
        end; never closed but when a resumed training replaces it.

    Attributes
    ----------
    training_log : blocks_log.log.TrainingLogBase
        The log written now: after a training resumed from a checkpoint,
        the child run that goes on from it.

    """
    def __init__(self, log):
        self.training_log = log

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.global_step:
            return
        saved = resuming.load_state(_checkpoint(args, state))
        if saved is None:
            warnings.warn(
                'training resumed at step {} from a checkpoint without the '
                'log\'s place: the log goes on in run {}'.format(
                    state.global_step, self.training_log.h_uuid),
                RuntimeWarning)
            return
        self.training_log = resuming.resumed_log(self.training_log, saved)

    def on_step_end(self, args, state, control, **kwargs):
        self.training_log.status['iterations_done'] = state.global_step

    def on_epoch_end(self, args, state, control, **kwargs):
        self._count_epochs(state)

    def _count_epochs(self, state):
        # Epochs from the trainer's count: a checkpoint saved at an epoch's
        # last step, before the epoch ends, already holds that epoch's end.
        log = self.training_log
        while log.status['epochs_done'] < int(state.epoch + 1e-6):
            end_epoch(log)

    def on_log(self, args, state, control, logs=None, **kwargs):
        log = self.training_log
        log_values(log[state.global_step], logs or {}, skip=('epoch',))
        log.flush()

    def on_save(self, args, state, control, **kwargs):
        self._count_epochs(state)
        if state.is_world_process_zero:
            resuming.save_state(resuming.checkpoint_state(self.training_log),
                                _checkpoint(args, state))

    def on_train_end(self, args, state, control, **kwargs):
        self.training_log.flush()


def _checkpoint(args, state):
    # The directory of the trainer's checkpoint at this step.
    return os.path.join(args.output_dir, '{}-{}'.format(
        transformers.trainer_utils.PREFIX_CHECKPOINT_DIR, state.global_step))
