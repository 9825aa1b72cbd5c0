"""jaxdl.text.cleaning: TextCleaner (SPEC SEQ-8) against the notes' demo, the fixed seed bugs,
OpenCC configs, stop-word files, non-UTF-8 input and empty texts."""

import pytest

from jaxdl.text import cleaning

DEMO = ["   大家好, 欢迎一起来学习文本的空格   去除   !", "   大家好,文本的空格   去除   !"]
DEMO_OUT = ["好 , 学习 文本 空格 去除 !", "好 , 文本 空格 去除 !"]
# The segmentation of LTP, the notes' segmenter, for the demo's cleaned texts.
LTP_SEGMENTS = {
    "大家好,欢迎一起来学习文本的空格去除!": "大家 好 , 欢迎 一起 来 学习 文本 的 空格 去除 !",
    "大家好,文本的空格去除!": "大家 好 , 文本 的 空格 去除 !",
}


def ltp_stub(texts):
    return [LTP_SEGMENTS[t].split() for t in texts]


def test_demo_output_with_a_stub_segmenter(tmp_path):
    (tmp_path / "a.txt").write_text("大家\n欢迎\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("一起\n来\n的\n", encoding="utf-8")
    stop = cleaning.load_stop_words(tmp_path / "a.txt", tmp_path / "b.txt")
    assert stop == {"大家", "欢迎", "一起", "来", "的"}  # both files, not only the last
    cleaner = cleaning.TextCleaner(
        remove_stop_words=True, with_space=True, stop_words=stop, segmenter=ltp_stub
    )
    assert cleaner.clean_text(DEMO) == DEMO_OUT


def test_demo_output_with_jieba():
    stop = {"大家", "欢迎", "一", "起来", "的"}  # jieba splits 一起来 as 一 / 起来
    cleaner = cleaning.TextCleaner(remove_stop_words=True, with_space=True, stop_words=stop)
    assert cleaner.clean_text(DEMO) == DEMO_OUT


def test_character_steps_and_fixed_bugs():
    c = cleaning.TextCleaner(to_simple=False)
    # seed output for this sentence was "现在听着音乐,duoruimi,很开心": English is no longer glued
    assert (
        c.clean_single_text("现在听着音乐,duo rui mi,很开心*_*") == "现在听着音乐,duo rui mi,很开心"
    )
    assert c.clean_single_text("   大家好, 这里还有  很多的知识...一起拉学习吧 !") == (
        "大家好,这里还有很多的知识。一起拉学习吧!"
    )
    # HTML first: tags and entities go before the symbol filter could mangle them
    assert c.clean_single_text("<p class='x'>好书&amp;推荐</p>^_^") == "好书推荐"
    assert c.clean_single_text("a^b") == "ab"  # '^' is not kept (the seed's class kept it)
    assert c.clean_single_text("全角，标点！问？") == "全角，标点！问？"
    assert c.clean_single_text("\u9fa6\u9fff") == "\u9fa6\u9fff"  # the CJK block to U+9FFF
    zh = cleaning.TextCleaner(only_zh=True, to_simple=False)
    assert zh.clean_single_text("1,2,3...我们开始吧, 加油!") == "我们开始吧加油"


def test_opencc_configs():
    assert len(cleaning.OPENCC_CONFIGS) == 10
    for name in cleaning.OPENCC_CONFIGS:
        assert isinstance(cleaning.opencc_converter(name)("汉字"), str)
    assert cleaning.opencc_converter("t2s")("漢字繁體") == "汉字繁体"
    assert cleaning.opencc_converter("s2t")("汉字繁体") == "漢字繁體"
    assert cleaning.TextCleaner().clean_single_text("這裡是繁體") == "这里是繁体"
    with pytest.raises(ValueError, match="unknown OpenCC config 'x2y'; choose from .*'s2twp'"):
        cleaning.TextCleaner(opencc_config="x2y")


def test_empty_texts_are_kept_and_flagged():
    c = cleaning.TextCleaner(remove_stop_words=True, stop_words={"的"}, with_space=True)
    out = c.clean(["好书", "***", "的", "<br/>"])
    assert out.texts == ["好书", "", "", ""] and out.empty == [False, True, True, True]


def test_segmentation_only_when_tokens_are_needed():
    calls = []

    def seg(texts):
        calls.append(list(texts))
        return [list(t) for t in texts]

    assert cleaning.TextCleaner(segmenter=seg, to_simple=False).clean_text(["好书"]) == ["好书"]
    assert not calls
    batched = cleaning.TextCleaner(segmenter=seg, with_space=True, batch_size=2, to_simple=False)
    assert batched.clean_text(["好书", "ab", "c"]) == ["好 书", "a b", "c"]
    assert [len(c) for c in calls] == [2, 1]


def test_bad_input(tmp_path):
    gbk = tmp_path / "stop.txt"
    raw = "停用词\n".encode("gbk")
    gbk.write_bytes(raw)
    with pytest.raises(UnicodeDecodeError) as info:
        raw.decode("utf-8")
    at = info.value.start
    with pytest.raises(
        ValueError, match=rf"stop.txt is not UTF-8 text \(byte 0x{raw[at]:02x} at offset {at}\)"
    ):
        cleaning.load_stop_words(gbk)
    with pytest.raises(TypeError, match="wrap it in a list"):
        cleaning.TextCleaner(to_simple=False).clean("一句话")
    with pytest.raises(TypeError, match="load_stop_words"):
        cleaning.TextCleaner(stop_words="stop.txt")
    bad = cleaning.TextCleaner(segmenter=lambda ts: [], with_space=True, to_simple=False)
    with pytest.raises(ValueError, match="returned 0 token lists for 1"):
        bad.clean(["好"])


def test_bundled_stop_words():
    stop = cleaning.snownlp_stop_words()
    assert len(stop) > 1000 and "的" in stop
