"""results.json helpers: the key accessors and the headline metrics file."""

from posenc.reporting.results import headline, key, lengths_of


def test_keys_and_lengths_round_trip():
    row = {key("acc", 256): 0.5, key("acc", 1024): 0.1, key("exact", 512): 0.0, "acc_note": 1, "train_steps": 3}
    assert lengths_of(row, "acc") == [256, 1024] and lengths_of(row, "exact") == [512]


def test_headline_holds_a_few_numbers_per_pe_taken_from_the_results(tiny_cfg):
    s = tiny_cfg.synthetic  # train length 16, eval lengths 16 and 32
    results = {"tasks": {t: {pe: {key("exact", L): (i + 1) / 10 + L / 1000 for L in s.eval_lengths}
                             for i, pe in enumerate(tiny_cfg.pes)} for t in s.tasks},
               "imdb": {pe: {key("acc", L): 0.5 + L / 1000 for L in tiny_cfg.imdb.eval_lengths} for pe in tiny_cfg.pes}}
    head = headline(tiny_cfg, results)
    assert set(head) == set(tiny_cfg.pes)
    for pe in tiny_cfg.pes:
        assert head[pe] == {"copy_exact_16": results["tasks"]["copy"][pe]["exact_16"],
                            "copy_exact_32": results["tasks"]["copy"][pe]["exact_32"],
                            "duplicate_exact_32": results["tasks"]["duplicate"][pe]["exact_32"],
                            "imdb_acc_32": results["imdb"][pe]["acc_32"]}
