//! The simulated city: a square grid of landmarks one block apart, a few hot spots where
//! crowds gather, and a seeded random source so every run with the same flags walks the same
//! streets (figures a reader can reproduce).

use crate::geo::Coordinates;

/// Metres per degree of latitude (and of longitude at the equator).
const METRES_PER_DEGREE: f64 = 111_195.0;
/// South-west corner of the grid (a made-up district; no real place is asked about).
const ORIGIN: Coordinates = Coordinates {
    lat: 55.7400,
    lon: 37.5800,
};
/// Distance between neighbouring landmarks, in metres: one block.
pub const BLOCK_M: f64 = 150.0;
/// Landmarks per side of the grid (24 × 24 blocks, 3.6 km across).
pub const BLOCKS: u32 = 24;
/// Where crowds meet, as (row, column) of a landmark.
pub const HOT_SPOTS: [(u32, u32); 4] = [(6, 6), (6, 17), (17, 6), (17, 17)];

/// Landmark kinds, English and Russian, picked by position.
const KINDS: [(&str, &str); 10] = [
    ("Bell Tower", "Колокольня"),
    ("Merchant House", "Купеческий дом"),
    ("Fountain", "Фонтан"),
    ("Old Library", "Старая библиотека"),
    ("Market Hall", "Торговые ряды"),
    ("Chapel", "Часовня"),
    ("Observatory", "Обсерватория"),
    ("Stone Bridge", "Каменный мост"),
    ("Theatre", "Театр"),
    ("Town Gate", "Городские ворота"),
];

/// One landmark of the grid, as the simulated Wikipedia describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Landmark {
    /// Wikipedia page id, unique per language.
    pub page_id: u64,
    /// Article title in the wiki's language.
    pub title: String,
    /// Where it stands.
    pub at: Coordinates,
    /// The article's intro (three sentences and more).
    pub extract: String,
    /// A lead image, for two landmarks out of three.
    pub image: Option<String>,
}

/// The point `north_m` metres north and `east_m` metres east of the grid's corner.
pub fn point(north_m: f64, east_m: f64) -> Coordinates {
    let lat = ORIGIN.lat + north_m / METRES_PER_DEGREE;
    let lon = ORIGIN.lon + east_m / (METRES_PER_DEGREE * ORIGIN.lat.to_radians().cos());
    Coordinates { lat, lon }
}

/// Where the landmark at `(row, col)` stands: on the grid, nudged a few metres so that no
/// two distances tie.
pub fn landmark_point(row: u32, col: u32) -> Coordinates {
    let nudge = f64::from((row * 7 + col * 3) % 11);
    point(
        f64::from(row) * BLOCK_M + nudge,
        f64::from(col) * BLOCK_M - nudge,
    )
}

/// The landmark at `(row, col)` in the `lang` wiki (`ru` or anything else for English).
pub fn landmark(row: u32, col: u32, lang: &str) -> Landmark {
    let index = (row * BLOCKS + col) as usize;
    let (kind_en, kind_ru) = KINDS[index % KINDS.len()];
    let year = 1700 + (index * 37) % 300;
    let russian = lang == "ru";
    let (title, extract) = if russian {
        let title = format!("{kind_ru}, квартал {row}-{col}");
        let extract = format!(
            "{title} построен в {year} году. Это одна из достопримечательностей \
             моделируемого города. В {} году здание отреставрировали. Сюда любят приходить \
             горожане.",
            year + 120
        );
        (title, extract)
    } else {
        let title = format!("{kind_en}, block {row}-{col}");
        let extract = format!(
            "The {kind_en} in block {row}-{col} was built in {year}. It is one of the \
             landmarks of the simulated city. It was restored in {}. Locals like to meet here.",
            year + 120
        );
        (title, extract)
    };
    let page_id = u64::from(row * 1000 + col) + if russian { 2_000_000 } else { 1_000_000 };
    Landmark {
        page_id,
        image: (!index.is_multiple_of(3))
            .then(|| format!("https://upload.wikimedia.org/simulated/{page_id}.jpg")),
        title,
        at: landmark_point(row, col),
        extract,
    }
}

/// Every landmark within `radius_m` of `from`, nearest first, at most `limit`, with distances.
pub fn landmarks_near(
    from: Coordinates,
    radius_m: f64,
    limit: usize,
    lang: &str,
) -> Vec<(Landmark, f64)> {
    let mut near: Vec<(u32, u32, f64)> = (0..BLOCKS)
        .flat_map(|row| (0..BLOCKS).map(move |col| (row, col)))
        .map(|(row, col)| (row, col, from.distance_m(&landmark_point(row, col))))
        .filter(|(_, _, distance)| *distance <= radius_m)
        .collect();
    near.sort_by(|a, b| a.2.total_cmp(&b.2));
    near.truncate(limit);
    near.into_iter()
        .map(|(row, col, distance)| (landmark(row, col, lang), distance))
        .collect()
}

/// A small seeded random source (SplitMix64): same seed, same city walk.
#[derive(Debug, Clone)]
pub struct Dice(u64);

impl Dice {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % u64::from(n.max(1))) as u32
    }

    /// A float in `[low, high)`.
    pub fn between(&mut self, low: f64, high: f64) -> f64 {
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        low + unit * (high - low)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_landmark_of_a_hot_spot_is_the_hot_spot_itself() {
        let (row, col) = HOT_SPOTS[0];
        let near = landmarks_near(landmark_point(row, col), 1000.0, 20, "en");
        assert_eq!(near.len(), 20);
        assert_eq!(near[0].0, landmark(row, col, "en"));
        assert!(near.windows(2).all(|pair| pair[0].1 <= pair[1].1));
    }

    #[test]
    fn languages_have_their_own_titles_and_page_ids() {
        let (en, ru) = (landmark(3, 4, "en"), landmark(3, 4, "ru"));
        assert_ne!(en.page_id, ru.page_id);
        assert!(ru.title.contains("квартал 3-4"), "{}", ru.title);
        assert_eq!(en.extract.matches(". ").count() + 1, 4);
    }

    #[test]
    fn the_same_seed_rolls_the_same_dice() {
        let (mut a, mut b) = (Dice::new(7), Dice::new(7));
        let rolls: Vec<u32> = (0..5).map(|_| a.below(100)).collect();
        assert_eq!(rolls, (0..5).map(|_| b.below(100)).collect::<Vec<_>>());
        assert!((0..1000).all(|_| (2.0..3.0).contains(&a.between(2.0, 3.0))));
    }
}
