"""blocks_log.integrations.lightning on real Lightning and PyTorch (CPU),
tiny trainings: the log holds what Lightning's own CSVLogger holds, the
hyperparameters typed, and a fit resumed from a checkpoint goes on in a
child run, each step once in its view."""
import csv
import glob
import os

import pytest

from helpers import framework
from integration_helpers import branches, make_log, run_readme_example

torch = framework('torch', 'lightning')
lightning = framework('lightning', 'lightning')

from blocks_log.integrations.lightning import BlocksLogger  # noqa: E402

BATCHES = 4  # per epoch: 64 samples, 16 a batch


class Classifier(lightning.LightningModule):
    def __init__(self, lr=0.1, layers=(4, 1), name='tiny'):
        super(Classifier, self).__init__()
        self.save_hyperparameters()
        self.layer = torch.nn.Linear(4, 1)

    def loss(self, batch):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            self.layer(batch[0]).squeeze(1), batch[1])

    def training_step(self, batch, index):
        loss = self.loss(batch)
        self.log('train_loss', loss)
        return loss

    def validation_step(self, batch, index):
        self.log('val_loss', self.loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loaders():
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(64, 4, generator=generator)
    data = torch.utils.data.TensorDataset(inputs, (inputs.sum(1) > 0).float())
    return (torch.utils.data.DataLoader(data, batch_size=16),
            torch.utils.data.DataLoader(data, batch_size=64))


def fit(log, directory, epochs, ckpt_path=None):
    """Fit with our logger and Lightning's CSVLogger side by side; return
    our logger and the CSV's rows."""
    torch.manual_seed(0)
    logger = BlocksLogger(log)
    reference = lightning.pytorch.loggers.CSVLogger(str(directory / 'csv'))
    trainer = lightning.Trainer(
        max_epochs=epochs, logger=[logger, reference], accelerator='cpu',
        callbacks=[logger, lightning.pytorch.callbacks.ModelCheckpoint(
            dirpath=str(directory / 'checkpoints'), save_top_k=-1)],
        log_every_n_steps=1, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=str(directory))
    trainer.fit(Classifier(), *loaders(), ckpt_path=ckpt_path)
    with open(os.path.join(reference.log_dir, 'metrics.csv')) as f:
        return logger, list(csv.DictReader(f))


def reported(rows, key):
    """{row of our log: value} of `key` in Lightning's CSV."""
    return dict((int(row['step']) + 1, float(row[key])) for row in rows
                if row.get(key))


@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_the_log_holds_what_lightning_reported(kind, tmp_path):
    log = make_log(kind, str(tmp_path / 'lightning.sqlite'))
    logger, rows = fit(log, tmp_path, 2)
    log = logger.training_log
    for key in ('train_loss', 'val_loss'):
        assert dict(log.history(key)) == pytest.approx(reported(rows, key))
    assert sorted(dict(log.history('val_loss'))) == [BATCHES, 2 * BATCHES]
    assert log.status['iterations_done'] == 2 * BATCHES
    assert list(log.status['_epoch_ends']) == [BATCHES, 2 * BATCHES]
    assert log.status['epochs_done'] == 2
    assert log.status['hyperparameters'] == {
        'lr': 0.1, 'layers': [4, 1], 'name': 'tiny'}
    assert logger.version == log.h_uuid and logger.experiment is log
    log.close()


@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_a_fit_resumed_from_a_checkpoint_goes_on_in_a_child_run(kind,
                                                                tmp_path):
    database = str(tmp_path / 'lightning.sqlite')
    first, first_rows = fit(make_log(kind, database), tmp_path, 3)
    stopped = first.training_log
    checkpoint, = glob.glob(str(tmp_path / 'checkpoints' / 'epoch=0-*'))
    resumed, resumed_rows = fit(make_log(kind, database), tmp_path, 4,
                                ckpt_path=checkpoint)
    log = resumed.training_log
    view = dict(log.history('train_loss'))
    assert sorted(view) == list(range(1, 4 * BATCHES + 1))  # each once
    expected = dict(reported(first_rows, 'train_loss'))
    expected.update(reported(resumed_rows, 'train_loss'))
    assert view == pytest.approx(expected)
    assert list(log.status['_epoch_ends']) == [
        BATCHES * epoch for epoch in range(1, 5)]
    # What the first fit logged after the checkpoint stays readable.
    assert sorted(dict(stopped.history('train_loss'))) == list(
        range(1, 3 * BATCHES + 1))
    if kind == 'sqlite':
        runs = branches(database)
        lineage, run = [], log.h_uuid
        while run:
            lineage.append(run)
            run = runs[run][0]
        # It reads through the run of the checkpoint (the first epoch); the
        # run the first fit went on in after it, a sibling, is out of it.
        root = lineage[-1]
        assert runs[root] == (None, BATCHES)
        children = [run for run, (parent, _) in runs.items()
                    if parent == root]
        stopped_branch, = set(children) - set(lineage)
        assert runs[stopped_branch][1] == BATCHES  # steps 5 to 8
    log.close()
    stopped.close()


def test_the_readme_examples_run(tmp_path, monkeypatch):
    files = run_readme_example('integrations.lightning', tmp_path,
                               monkeypatch)
    assert 'lightning.sqlite' in files and 'checkpoints' in files
    files = run_readme_example('import torch\nfrom blocks_log import '
                               'SQLiteLog\n\nmodel', tmp_path, monkeypatch)
    assert 'torch.sqlite' in files
