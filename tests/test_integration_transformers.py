"""blocks_log.integrations.transformers on a real Hugging Face Trainer
(PyTorch, CPU) and a tiny BERT made from a config (nothing downloaded):
the log holds what the trainer reported in its log history, and a
training resumed from a checkpoint goes on in a child run."""
import pytest

from helpers import framework
from integration_helpers import branches, make_log, run_readme_example

torch = framework('torch', 'transformers')
transformers = framework('transformers', 'transformers')

from blocks_log.integrations.transformers import LogCallback  # noqa: E402

STEPS = 4  # per epoch: 32 examples, 8 a batch


def train(log, directory, epochs, resume=None):
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(
        transformers.BertConfig(vocab_size=50, hidden_size=16,
                                num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=32))
    generator = torch.Generator().manual_seed(0)
    words = torch.randint(0, 50, (32, 8), generator=generator)
    data = [{'input_ids': row, 'labels': int(row[0] > 25)} for row in words]
    arguments = transformers.TrainingArguments(
        output_dir=str(directory), num_train_epochs=epochs,
        per_device_train_batch_size=8, logging_steps=1, save_steps=STEPS,
        eval_strategy='epoch', report_to=[], use_cpu=True,
        disable_tqdm=True, seed=0)
    callback = LogCallback(log)
    trainer = transformers.Trainer(model=model, args=arguments,
                                   train_dataset=data, eval_dataset=data[:8],
                                   callbacks=[callback])
    trainer.train(resume_from_checkpoint=resume)
    return callback.training_log, trainer.state.log_history


def check_reported(log, history):
    for entry in history:
        row = log[entry['step']]
        for name, value in entry.items():
            if name not in ('step', 'epoch'):
                assert row[name] == value, (entry, name)


@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_the_log_holds_what_the_trainer_reported(kind, tmp_path):
    log, history = train(make_log(kind, str(tmp_path / 'bert.sqlite')),
                         tmp_path / 'out', 2)
    check_reported(log, history)
    assert sorted(dict(log.history('loss'))) == list(range(1, 2 * STEPS + 1))
    assert sorted(dict(log.history('eval_loss'))) == [STEPS, 2 * STEPS]
    assert log.status['iterations_done'] == 2 * STEPS
    assert list(log.status['_epoch_ends']) == [STEPS, 2 * STEPS]
    assert log.status['epochs_done'] == 2
    log.close()


@pytest.mark.parametrize('kind', ['memory', 'sqlite'])
def test_a_resumed_training_goes_on_in_a_child_run(kind, tmp_path):
    database = str(tmp_path / 'bert.sqlite')
    stopped, first = train(make_log(kind, database), tmp_path / 'out', 2)
    log, second = train(make_log(kind, database), tmp_path / 'out', 3,
                        resume=str(tmp_path / 'out' / 'checkpoint-4'))
    assert sorted(dict(log.history('loss'))) == list(range(1, 3 * STEPS + 1))
    # The checkpoint at step 4 was saved before the evaluation that ends
    # the first epoch: that evaluation is in the stopped branch only.
    check_reported(log, [entry for entry in first if entry['step'] <= STEPS
                         and 'eval_loss' not in entry] + second)
    assert STEPS not in dict(log.history('eval_loss'))
    assert STEPS in dict(stopped.history('eval_loss'))
    assert list(log.status['_epoch_ends']) == [STEPS, 2 * STEPS, 3 * STEPS]
    # The first training's steps after the checkpoint stay readable, in
    # the run it went on in; the resumed view has the new ones.
    check_reported(stopped, first)
    if kind == 'sqlite':
        runs = branches(database)
        parents = set(parent for parent, _ in runs.values())
        checkpoint_run = runs[log.h_uuid][0]
        while runs[checkpoint_run][0] is not None:
            checkpoint_run = runs[checkpoint_run][0]
        assert runs[checkpoint_run][1] == STEPS
        assert checkpoint_run in parents
        assert len([run for run, (parent, rows) in runs.items()
                    if parent == checkpoint_run and rows]) == 2
    log.close()
    stopped.close()


def test_a_resumed_training_without_the_logs_place_warns(tmp_path):
    log, _ = train(make_log('memory', None), tmp_path / 'out', 1)
    (tmp_path / 'out' / 'checkpoint-4' / 'blocks_log.json').unlink()
    (tmp_path / 'out' / 'checkpoint-4' / 'blocks_log.pickle').unlink()
    fresh = make_log('memory', None)
    with pytest.warns(RuntimeWarning, match="without the log's place"):
        again, _ = train(fresh, tmp_path / 'out', 2,
                         resume=str(tmp_path / 'out' / 'checkpoint-4'))
    assert again is fresh


def test_the_readme_example_runs(tmp_path, monkeypatch):
    files = run_readme_example('integrations.transformers', tmp_path,
                               monkeypatch)
    assert 'bert.sqlite' in files
