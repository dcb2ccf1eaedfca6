"""Stage plot_reviews: reviews/imdb_attention.png, each classifier's attention on whole validation reviews
(it shows review text, so it is a DVC-cached output, never committed to git)."""

import _cli

from posenc import io
from posenc.artifacts import IMDB
from posenc.data import imdb
from posenc.reporting.review_maps import imdb_attention, plt


def main() -> None:
    args, cfg, layout = _cli.setup(_cli.parser(__doc__))
    pes, first = list(cfg.pes), cfg.seeds[0]  # the first seed's classifiers, as for every probe figure
    reviews = {pe: io.read_json(layout.probe_json(IMDB, pe, first))["review_maps"] for pe in pes}
    arrays = {pe: io.load_npz(layout.attention_maps(IMDB, pe, first), "IMDb attention maps",
                              "run the probe_imdb stage") for pe in pes}
    fig = imdb_attention(reviews, arrays, pes, imdb.load_tokenizer(layout.imdb_data / "tokenizer.json"))
    with io.atomic_path(layout.review_figure, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=80, bbox_inches="tight", format="png")
    plt.close(fig)
    print(f"wrote {layout.review_figure} (review text: kept out of git)")


if __name__ == "__main__":
    _cli.run(main)
