"""blocks_log.integrations.keras on real Keras 3 (the JAX backend), tiny
trainings on the CPU: the log holds what Keras reported, batch by batch and
epoch by epoch, and a resumed training goes on in a child run."""
import os

import pytest

from helpers import framework
from integration_helpers import branches, make_log, run_readme_example

os.environ.setdefault('KERAS_BACKEND', 'jax')
keras = framework('keras', 'keras')
numpy = framework('numpy', 'keras')

from blocks_log.integrations import resuming  # noqa: E402
from blocks_log.integrations.keras import LogCallback  # noqa: E402

BATCHES = 4  # per epoch: 64 samples, 16 a batch


class Reported(keras.callbacks.Callback):
    """What Keras gives its callbacks, batch by batch."""
    def __init__(self):
        super(Reported, self).__init__()
        self.batches = []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(dict(logs))


def data(seed=0):
    rng = numpy.random.default_rng(seed)
    inputs = rng.normal(size=(64, 4)).astype('float32')
    return inputs, (inputs.sum(axis=1) > 0).astype('float32')


def model():
    keras.utils.set_random_seed(0)
    made = keras.Sequential([keras.Input((4,)),
                             keras.layers.Dense(8, activation='relu'),
                             keras.layers.Dense(1, activation='sigmoid')])
    made.compile('sgd', 'binary_crossentropy', metrics=['accuracy'])
    return made


@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_rows_epochs_and_validation_are_what_keras_reported(kind, tmp_path):
    log = make_log(kind, str(tmp_path / 'keras.sqlite'))
    inputs, labels = data()
    reported = Reported()
    history = model().fit(inputs, labels, batch_size=16, epochs=2,
                          validation_data=data(1), verbose=0,
                          callbacks=[LogCallback(log), reported])
    assert log.status['iterations_done'] == 2 * BATCHES
    assert log.status['epochs_done'] == 2
    assert list(log.status['_epoch_ends']) == [BATCHES, 2 * BATCHES]
    for time, logs in enumerate(reported.batches, 1):
        for name, value in logs.items():
            assert log[time][name] == float(value)
    for epoch, end in enumerate(log.status['_epoch_ends']):
        for name, values in history.history.items():
            assert log[end][name] == values[epoch]
    assert 'val_loss' in log[BATCHES] and 'val_loss' not in log[1]
    assert sorted(log) == list(range(1, 2 * BATCHES + 1))
    log.close()


class CheckpointAt(keras.callbacks.Callback):
    """Save the model and the log's place at the end of one epoch."""
    def __init__(self, epoch, directory, logging):
        super(CheckpointAt, self).__init__()
        self.epoch, self.directory, self.logging = epoch, directory, logging

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.save(os.path.join(self.directory, 'model.keras'))
            resuming.save_state(resuming.checkpoint_state(
                self.logging.training_log), self.directory)


@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_a_resumed_training_goes_on_in_a_child_run(kind, tmp_path):
    database = str(tmp_path / 'keras.sqlite')
    inputs, labels = data()
    logging = LogCallback(make_log(kind, database))
    model().fit(inputs, labels, batch_size=16, epochs=2, verbose=0,
                callbacks=[logging, CheckpointAt(0, str(tmp_path),
                                                 logging)])
    stopped = logging.training_log  # went on past the checkpoint
    stopped.flush()
    checkpointed = stopped.status['resumed_from']
    # Training again from the checkpoint of the first epoch.
    again = keras.saving.load_model(str(tmp_path / 'model.keras'))
    log = resuming.resumed_log(make_log(kind, database),
                               resuming.load_state(str(tmp_path)))
    reported = Reported()
    again.fit(inputs, labels, batch_size=16, epochs=3, initial_epoch=1,
              verbose=0, callbacks=[LogCallback(log), reported])
    assert log.status['resumed_from'] == checkpointed
    assert sorted(log) == list(range(1, 3 * BATCHES + 1))  # each step once
    for time, logs in enumerate(reported.batches, BATCHES + 1):
        assert log[time]['loss'] == float(logs['loss'])
    assert list(log.status['_epoch_ends']) == [BATCHES, 2 * BATCHES,
                                               3 * BATCHES]
    # The stopped training's second epoch stays readable, out of the view.
    assert sorted(time for time in stopped if time > BATCHES) == list(
        range(BATCHES + 1, 2 * BATCHES + 1))
    if kind == 'sqlite':
        runs = branches(database)
        assert runs[stopped.h_uuid] == (checkpointed, BATCHES)
        assert runs[log.h_uuid][0] == checkpointed
    log.close()
    stopped.close()


def test_the_readme_example_runs(tmp_path, monkeypatch):
    files = run_readme_example('integrations.keras', tmp_path, monkeypatch)
    assert {'keras.sqlite', 'model.keras', 'blocks_log.json'} <= set(files)
