"""Source-side word lists of the synthetic translation task (English-like, regular morphology only).

About 300 nouns, 120 adjectives, 120 verbs and 30 adverbs (577 words): enough vocabulary that knowing every word's
translation takes real capacity (the "knowledge" a bigger model has and a tiny one lacks).

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
ant ape bat bee bull hawk hen lamb mole moth mule owl pony puppy raven skunk sloth snail swan toad
wasp worm zebra badger beaver cheetah crow falcon ferret hamster heron hyena koala lizard llama lobster magpie
panda panther pelican penguin pigeon puma robin squid stork turkey viper vulture walrus weasel
actor author barber butcher captain carpenter clerk cousin dentist editor gardener guide judge knight maid mayor
merchant miner monk nanny officer poet priest prince princess scholar scientist sheriff shepherd sister brother
uncle aunt tailor tourist traveler tutor umpire villager visitor warrior widow witch worker
anchor arrow axe barrel bench blanket bowl brush bucket button candle carpet chain coat comb crown cup dish
feather fence flag fork glass glove hammer hat helmet jar jug kettle ladder lantern needle net pan pen pencil
pillow plate pot ribbon saddle shoe sock spoon stick towel tray trumpet umbrella vase wheel whistle violin guitar
flute harp banner cabin canoe cart cottage fountain harbor lighthouse meadow mill palace pond puddle statue stable
temple tunnel valley cave cliff desert field glacier jungle ocean planet star cloud comet
""".split()

ADJECTIVES = """
big small old young tall short happy sad angry quiet loud brave clever lazy busy rich poor
strong weak kind cruel proud shy wild calm bright dark clean dirty warm cold soft hard
red blue green yellow black white brown gray pink golden silver wooden heavy light
fast slow strange famous hungry sleepy friendly funny gentle honest
ancient awful bold bored broken cheap cheerful clumsy cozy crazy curious dusty eager elegant empty fancy
fierce foolish fresh gigantic glad greedy grumpy handsome humble icy jolly lonely lucky magic modern muddy narrow
nervous noisy odd plain polite precious pretty purple rare rough round rusty scary secret shiny silly simple
smooth sour spicy square steep sticky sweet thin thick tiny tired ugly wet wide wise wicked
""".split()

VERBS = """
watch like help call push pull kick visit follow paint clean open wash touch kiss climb
count cook fix greet hunt lift love miss move need order pick play reach remember rescue
save search thank trust want warn check chase collect deliver destroy enjoy guard hate
join mark plant print protect record respect return share support test train use welcome
admire answer attack bake burn
jump walk talk listen wait learn carry copy marry worry study hurry fear lick pack pump rush wish
fetch point rest roast shout smell spell taste wave wipe praise race trace place bless dress press guess
boil spoil fool fill kill roll sail heal borrow show obey stay pray allow squeeze tickle punish
""".split()

ADVERBS = """
quickly slowly often rarely happily sadly quietly loudly again today yesterday carefully
proudly gently badly always
softly bravely calmly eagerly rudely politely secretly wisely boldly kindly briefly soon later tonight
""".split()

PREPOSITIONS = "in on near with under behind".split()

