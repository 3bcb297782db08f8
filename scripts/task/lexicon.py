"""Source-side word lists of the synthetic translation task (English-like, regular morphology only).

Every noun and verb follows the regular English spelling rules of grammar.py (plural and third person "-s",
past "-ed"), so the source side needs no irregular tables; target stems are drawn at random from a seed.
"""

NOUNS = """
dog cat bird horse farmer teacher doctor student baker painter singer driver dancer soldier
king queen friend neighbor girl boy lawyer pilot sailor tiger lion monkey snake
rabbit eagle parrot donkey camel robot clown guard ranger hunter writer reader player
cook waiter nurse chef artist pirate wizard dragon giant ghost spider beetle frog turtle
duck pig cow goat bear fox rat otter shark whale seal crab
book table chair window door house garden river bridge tower castle ship boat car train
bike road forest mountain hill lake island village city market school shop church farm
lamp bottle basket box letter map picture song story flower tree stone apple orange melon
cake bread cheese coin key ring sword shield drum bell clock mirror rope tent wagon
""".split()

ADJECTIVES = """
big small old young tall short happy sad angry quiet loud brave clever lazy busy rich poor
strong weak kind cruel proud shy wild calm bright dark clean dirty warm cold soft hard
red blue green yellow black white brown gray pink golden silver wooden heavy light
fast slow strange famous hungry sleepy friendly funny gentle honest
""".split()

VERBS = """
watch like help call push pull kick visit follow paint clean open wash touch kiss climb
count cook fix greet hunt lift love miss move need order pick play reach remember rescue
save search thank trust want warn check chase collect deliver destroy enjoy guard hate
join mark plant print protect record respect return share support test train use welcome
admire answer attack bake burn
""".split()

ADVERBS = """
quickly slowly often rarely happily sadly quietly loudly again today yesterday carefully
proudly gently badly always
""".split()

PREPOSITIONS = "in on near with under behind".split()

