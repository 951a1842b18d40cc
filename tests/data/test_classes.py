"""Class tables: the Cityscapes label table is the official one; subsets and remaps go by name.

cityscapesscripts (the official source) needs matplotlib and four more packages to install,
so instead of a test extra this file holds an independent copy of its ``labels.py``
definition (name, id, trainId, color of the 34 labels with id >= 0), written out from it.
"""

import numpy as np

from fada_tf.data.classes import (CITYSCAPES_EVALUATED_IDS, CITYSCAPES_LABELS, class_table,
                                  names_to_train_ids, remap_lookup)

OFFICIAL = """
unlabeled 0 255 0,0,0 | ego vehicle 1 255 0,0,0 | rectification border 2 255 0,0,0 |
out of roi 3 255 0,0,0 | static 4 255 0,0,0 | dynamic 5 255 111,74,0 | ground 6 255 81,0,81 |
road 7 0 128,64,128 | sidewalk 8 1 244,35,232 | parking 9 255 250,170,160 |
rail track 10 255 230,150,140 | building 11 2 70,70,70 | wall 12 3 102,102,156 |
fence 13 4 190,153,153 | guard rail 14 255 180,165,180 | bridge 15 255 150,100,100 |
tunnel 16 255 150,120,90 | pole 17 5 153,153,153 | polegroup 18 255 153,153,153 |
traffic light 19 6 250,170,30 | traffic sign 20 7 220,220,0 | vegetation 21 8 107,142,35 |
terrain 22 9 152,251,152 | sky 23 10 70,130,180 | person 24 11 220,20,60 | rider 25 12 255,0,0 |
car 26 13 0,0,142 | truck 27 14 0,0,70 | bus 28 15 0,60,100 | caravan 29 255 0,0,90 |
trailer 30 255 0,0,110 | train 31 16 0,80,100 | motorcycle 32 17 0,0,230 | bicycle 33 18 119,11,32
"""


def official_labels():
    rows = []
    for entry in OFFICIAL.replace("\n", " ").split("|"):
        *name, label_id, train_id, colour = entry.split()
        rows.append((" ".join(name), int(label_id), int(train_id), tuple(map(int, colour.split(",")))))
    return rows


def test_cityscapes_label_table_is_the_official_one():
    assert list(CITYSCAPES_LABELS) == official_labels()


def test_cityscapes19_is_ordered_by_train_id_with_official_colours():
    evaluated = sorted((r for r in official_labels() if r[2] != 255), key=lambda r: r[2])
    table = class_table("cityscapes19")
    assert table.names == tuple(r[0] for r in evaluated)
    assert table.colours == tuple(r[3] for r in evaluated)
    lookup = names_to_train_ids(CITYSCAPES_EVALUATED_IDS, table)
    expected = np.full(256, 255)
    for _, label_id, train_id, _ in official_labels():
        expected[label_id] = train_id
    np.testing.assert_array_equal(lookup, expected)


def test_synthia16_and_crosscity13_are_the_papers_subsets():
    names19 = class_table("cityscapes19").names
    synthia = class_table("synthia16").names
    assert [names19.index(n) for n in synthia] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18]
    crosscity = class_table("crosscity13").names
    assert [names19.index(n) for n in crosscity] == [0, 1, 2, 6, 7, 8, 10, 11, 12, 13, 15, 17, 18]


def test_remap_keeps_shared_classes_and_ignores_the_rest():
    lookup = remap_lookup(class_table("cityscapes19"), class_table("synthia16"))
    expected = {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 255, 10: 9, 11: 10, 12: 11,
                13: 12, 14: 255, 15: 13, 16: 255, 17: 14, 18: 15, 255: 255}
    assert {k: int(lookup[k]) for k in expected} == expected
    same = remap_lookup(class_table("crosscity13"), class_table("crosscity13"))
    np.testing.assert_array_equal(same[:13], np.arange(13))
    assert (same[13:] == 255).all()
