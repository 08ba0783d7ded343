//! Names for films and customers, in dvdrental's style (`ACADEMY DINOSAUR`, "A Epic Drama
//! of a Feminist And a Mad Scientist who must Battle a Teacher in The Canadian Rockies").
use std::collections::HashSet;

use crate::rng::Xoshiro;

const TITLE_A: &[&str] = &[
    "ACADEMY", "ACE", "ADAPTATION", "AFFAIR", "AFRICAN", "AGENT", "AIRPLANE", "ALABAMA", "ALADDIN", "ALAMO",
    "ALASKA", "ALI", "ALIEN", "ALLEY", "AMADEUS", "AMERICAN", "ANACONDA", "ANGELS", "ANNIE", "ANTHEM", "APACHE",
    "APOCALYPSE", "ARABIA", "ARGONAUTS", "ARMAGEDDON", "ARMY", "ARSENIC", "ATLANTIS", "ATTACKS", "BABY", "BACKLASH",
    "BADMAN", "BAKED", "BALLOON", "BANG", "BANGER", "BARBARELLA", "BAREFOOT", "BASIC", "BEACH", "BEAR", "BEAST",
    "BEAUTY", "BED", "BEDAZZLED", "BEHAVIOR", "BENEATH", "BERETS", "BETRAYED", "BEVERLY", "BIKINI", "BILKO",
    "BIRCH", "BIRD", "BLACKOUT", "BLADE", "BLANKET", "BLINDNESS", "BLOOD", "BLUES", "BOILED", "BONNIE", "BOOGIE",
    "BORN", "BOUND", "BOWFINGER", "BRANNIGAN", "BRAVEHEART", "BREAKFAST", "BRIDE", "BRIGHT", "BRINGING", "BROOKLYN",
    "BROTHERHOOD", "BUBBLE", "BUCKET", "BUGSY", "BULL", "BULWORTH", "BUNCH", "BUTCH", "BUTTERFLY", "CABIN",
    "CADDYSHACK", "CALENDAR", "CALIFORNIA", "CAMELOT", "CAMPUS", "CANDIDATE", "CANYON", "CAPER", "CARIBBEAN",
    "CAROL", "CARRIE", "CASABLANCA", "CASPER", "CASSIDY", "CASUALTIES", "CAT", "CATCH", "CAUSE", "CELEBRITY",
    "CENTER", "CHAINSAW", "CHAMBER", "CHAMPION", "CHANCE", "CHAPLIN", "CHARADE", "CHARIOTS", "CHASING", "CHEAPER",
    "CHICAGO", "CHICKEN", "CHILL", "CHINATOWN", "CHOCOLAT", "CHRISTMAS", "CIDER", "CINCINATTI", "CIRCUS", "CITIZEN",
    "CLASH", "CLEOPATRA", "CLERKS", "CLONES", "CLOSER", "CLUB", "CLUE", "CLUELESS", "CLYDE", "COAST", "COLDBLOODED",
    "COLOR", "COMA", "COMANCHEROS", "COMFORTS", "COMMAND", "CONEHEADS", "CONFESSIONS", "CONFIDENTIAL", "CONFUSED",
];

const TITLE_B: &[&str] = &[
    "DINOSAUR", "GOLDFINGER", "HOLES", "PREJUDICE", "EGG", "TRUMAN", "SIERRA", "MYSTIC", "CALENDAR", "FURY",
    "FRIENDS", "FOREVER", "CORE", "EXPRESS", "NOBODY", "HAUNTING", "REEF", "HORN", "CHRISTMAS", "SILENCE",
    "DANCE", "WHISPERER", "SAINTS", "WAR", "GOSFORD", "ARMY", "DIVIDE", "WEEKEND", "DREAM", "WIZARD", "GODFATHER",
    "VALENTINE", "MAGNOLIA", "NECKLACE", "STOCK", "WASH", "ROMAN", "TEXAS", "KILLER", "OCTOBER", "GRAFFITI",
    "HEAVEN", "SUNRISE", "MOVIE", "CUPBOARD", "RACER", "SPICE", "TRAIN", "HOOSIERS", "FELLOWSHIP", "NATURAL",
    "TIMBERLAND", "BOONDOCK", "WINDOW", "PANKY", "LUST", "HARPER", "SMOOCHY", "LIFE", "CROSSROADS", "BROOKLYN",
    "ANONYMOUS", "HALLOWEEN", "SUGAR", "RUNNER", "COWBOY", "MINE", "OPPOSITE", "BUTTERFLY", "GRAIL", "SPIRIT",
    "CONNECTICUT", "EVE", "CITIZEN", "LOVERBOY", "MIDSUMMER", "FORRESTER", "MOSQUITO", "STRANGERS", "EARRING",
    "LEATHERNECKS", "GROSSE", "INSECTS", "MINDS", "SUNDANCE", "ROCKETEER", "FICTION", "HURRICANE", "VANISHING",
];

const DESC_ADJ: &[&str] = &[
    "Epic", "Astounding", "Fanciful", "Intrepid", "Awe-Inspiring", "Thoughtful", "Beautiful", "Boring", "Touching",
    "Emotional", "Action-Packed", "Insightful", "Stunning", "Brilliant", "Lacklusture", "Unbelieveable", "Taut",
    "Amazing", "Fast-Paced", "Fateful",
];
const DESC_KIND: &[&str] = &[
    "Drama", "Story", "Reflection", "Documentary", "Saga", "Character Study", "Tale", "Display", "Panorama",
    "Yarn", "Epistle", "Drama",
];
const DESC_WHO: &[&str] = &[
    "Feminist", "Mad Scientist", "Teacher", "Student", "Dentist", "Crocodile", "Moose", "Composer", "Car",
    "Database Administrator", "Boat", "Pioneer", "Hunter", "Robot", "Butler", "Explorer", "Lumberjack", "Monkey",
    "Frisbee", "Technical Writer", "Sumo Wrestler", "Squirrel", "Girl", "Boy", "Woman", "Man", "Astronaut",
];
const DESC_VERB: &[&str] = &[
    "Battle", "Chase", "Defeat", "Discover", "Outgun", "Outrace", "Pursue", "Reach", "Redeem", "Sink", "Succumb",
    "Fight", "Find", "Face", "Meet", "Kill", "Overcome", "Vanquish", "Conquer", "Build", "Escape",
];
const DESC_PLACE: &[&str] = &[
    "The Canadian Rockies", "A Shark Tank", "Ancient China", "Ancient India", "Nigeria", "A Jet Boat", "A Baloon",
    "The Gulf of Mexico", "An Abandoned Mine Shaft", "A Monastery", "Soviet Georgia", "A Manhattan Penthouse",
    "The Outback", "A U-Boat", "A MySQL Convention", "Berlin", "The Sahara Desert", "A Lifeboat", "Australia",
    "The First Manned Space Station", "A Baloon Factory", "Japan", "An Abandoned Fun House",
];

const FIRST: &[&str] = &[
    "MARY", "PATRICIA", "LINDA", "BARBARA", "ELIZABETH", "JENNIFER", "MARIA", "SUSAN", "MARGARET", "DOROTHY",
    "LISA", "NANCY", "KAREN", "BETTY", "HELEN", "SANDRA", "DONNA", "CAROL", "RUTH", "SHARON", "MICHELLE", "LAURA",
    "SARAH", "KIMBERLY", "DEBORAH", "JESSICA", "SHIRLEY", "CYNTHIA", "ANGELA", "MELISSA", "BRENDA", "AMY", "ANNA",
    "REBECCA", "VIRGINIA", "KATHLEEN", "PAMELA", "MARTHA", "DEBRA", "AMANDA", "JAMES", "JOHN", "ROBERT", "MICHAEL",
    "WILLIAM", "DAVID", "RICHARD", "CHARLES", "JOSEPH", "THOMAS", "CHRISTOPHER", "DANIEL", "PAUL", "MARK",
    "DONALD", "GEORGE", "KENNETH", "STEVEN", "EDWARD", "BRIAN", "RONALD", "ANTHONY", "KEVIN", "JASON", "MATTHEW",
    "GARY", "TIMOTHY", "JOSE", "LARRY", "JEFFREY", "FRANK", "SCOTT", "ERIC", "STEPHEN", "ANDREW", "RAYMOND",
    "GREGORY", "JOSHUA", "JERRY", "DENNIS", "WALTER", "PATRICK", "PETER", "HAROLD", "DOUGLAS", "HENRY", "CARL",
];
const LAST: &[&str] = &[
    "SMITH", "JOHNSON", "WILLIAMS", "JONES", "BROWN", "DAVIS", "MILLER", "WILSON", "MOORE", "TAYLOR", "ANDERSON",
    "THOMAS", "JACKSON", "WHITE", "HARRIS", "MARTIN", "THOMPSON", "GARCIA", "MARTINEZ", "ROBINSON", "CLARK",
    "RODRIGUEZ", "LEWIS", "LEE", "WALKER", "HALL", "ALLEN", "YOUNG", "HERNANDEZ", "KING", "WRIGHT", "LOPEZ",
    "HILL", "SCOTT", "GREEN", "ADAMS", "BAKER", "GONZALEZ", "NELSON", "CARTER", "MITCHELL", "PEREZ", "ROBERTS",
    "TURNER", "PHILLIPS", "CAMPBELL", "PARKER", "EVANS", "EDWARDS", "COLLINS", "STEWART", "SANCHEZ", "MORRIS",
    "ROGERS", "REED", "COOK", "MORGAN", "BELL", "MURPHY", "BAILEY", "RIVERA", "COOPER", "RICHARDSON", "COX",
    "HOWARD", "WARD", "TORRES", "PETERSON", "GRAY", "RAMIREZ", "JAMES", "WATSON", "BROOKS", "KELLY", "SANDERS",
    "PRICE", "BENNETT", "WOOD", "BARNES", "ROSS", "HENDERSON", "COLEMAN", "JENKINS", "PERRY", "POWELL", "O'NEIL",
];

fn pick<'a>(rng: &mut Xoshiro, words: &[&'a str]) -> &'a str {
    words[rng.below(words.len() as u64) as usize]
}

/// A unique two-word title; past the word pairs' capacity, a number is added (`... 2`).
pub(super) fn film_title(rng: &mut Xoshiro, used: &mut HashSet<String>) -> String {
    for _ in 0..8 {
        let t = format!("{} {}", pick(rng, TITLE_A), pick(rng, TITLE_B));
        if used.insert(t.clone()) {
            return t;
        }
    }
    let base = format!("{} {}", pick(rng, TITLE_A), pick(rng, TITLE_B));
    let mut k = 2u32;
    loop {
        let t = format!("{base} {k}");
        if used.insert(t.clone()) {
            return t;
        }
        k += 1;
    }
}

/// "A Fateful Reflection of a Moose And a Husband who must Overcome a Monkey in Nigeria".
pub(super) fn film_description(rng: &mut Xoshiro) -> String {
    format!(
        "A {} {} of a {} And a {} who must {} a {} in {}",
        pick(rng, DESC_ADJ),
        pick(rng, DESC_KIND),
        pick(rng, DESC_WHO),
        pick(rng, DESC_WHO),
        pick(rng, DESC_VERB),
        pick(rng, DESC_WHO),
        pick(rng, DESC_PLACE)
    )
}

pub(super) fn first_name(rng: &mut Xoshiro) -> &'static str {
    pick(rng, FIRST)
}

pub(super) fn last_name(rng: &mut Xoshiro) -> &'static str {
    pick(rng, LAST)
}
