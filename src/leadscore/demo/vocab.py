"""Word lists of the synthetic B2B world: titles, industries, countries, pages, campaigns.

Kept apart from the generator so the numbers that shape the data (shares, seniority, fit) can be
read and tuned in one place. Every list is a tuple of plain values; the generator turns each into
a pyarrow dictionary once and then only draws integer indices, which is what keeps it vectorised.
"""

from __future__ import annotations

#: (title, share of contacts, seniority 0..1). Seniority drives fit and hence the hidden intent.
#: CEO, CMO and VP Sales are the starter model's target titles: together ~20% of contacts.
TITLES: tuple[tuple[str, float, float], ...] = (
    ("CEO", 0.080, 1.00),
    ("Founder", 0.025, 0.90),
    ("CMO", 0.060, 0.95),
    ("VP Sales", 0.070, 0.95),
    ("VP Marketing", 0.030, 0.90),
    ("CTO", 0.025, 0.70),
    ("Head of Marketing", 0.045, 0.85),
    ("Head of Sales", 0.030, 0.80),
    ("Director of Demand Generation", 0.020, 0.80),
    ("RevOps Manager", 0.030, 0.75),
    ("Marketing Manager", 0.080, 0.60),
    ("Sales Manager", 0.050, 0.55),
    ("Product Manager", 0.040, 0.40),
    ("Account Executive", 0.050, 0.40),
    ("Sales Rep", 0.040, 0.35),
    ("Marketing Specialist", 0.040, 0.35),
    ("Consultant", 0.040, 0.35),
    ("Data Analyst", 0.035, 0.30),
    ("Engineer", 0.060, 0.20),
    ("Office Manager", 0.020, 0.15),
    ("Student", 0.050, 0.00),
    ("Intern", 0.030, 0.05),
)
#: Share of contacts whose job title is unknown (NULL): a missing property matches no rule.
TITLE_MISSING = 0.05
#: Titles that mostly sign up with a private or university address.
STUDENT_TITLES = ("Student", "Intern")

#: (industry, share of companies, fit 0..1 for a product sold to B2B marketing teams).
INDUSTRIES: tuple[tuple[str, float, float], ...] = (
    ("SaaS", 0.22, 1.00),
    ("Fintech", 0.10, 0.90),
    ("Agency", 0.10, 0.70),
    ("E-commerce", 0.08, 0.70),
    ("Healthcare", 0.09, 0.50),
    ("Retail", 0.09, 0.45),
    ("Manufacturing", 0.10, 0.40),
    ("Education", 0.07, 0.25),
    ("Logistics", 0.06, 0.40),
    ("Non-profit", 0.04, 0.15),
    ("Government", 0.05, 0.10),
)

#: (country, share of companies, telephone prefix, cities).
COUNTRIES: tuple[tuple[str, float, str, tuple[str, ...]], ...] = (
    ("United States", 0.40, "+1", ("New York", "San Francisco", "Austin", "Boston", "Chicago",
                                   "Seattle", "Denver", "Atlanta")),
    ("United Kingdom", 0.12, "+44", ("London", "Manchester", "Edinburgh", "Bristol")),
    ("Germany", 0.10, "+49", ("Berlin", "Munich", "Hamburg", "Cologne")),
    ("France", 0.06, "+33", ("Paris", "Lyon", "Toulouse")),
    ("Canada", 0.06, "+1", ("Toronto", "Vancouver", "Montreal")),
    ("Netherlands", 0.04, "+31", ("Amsterdam", "Rotterdam", "Utrecht")),
    ("Australia", 0.04, "+61", ("Sydney", "Melbourne", "Brisbane")),
    ("India", 0.06, "+91", ("Bangalore", "Mumbai", "Pune", "Hyderabad")),
    ("Spain", 0.03, "+34", ("Madrid", "Barcelona", "Valencia")),
    ("Sweden", 0.03, "+46", ("Stockholm", "Gothenburg")),
    ("Brazil", 0.03, "+55", ("São Paulo", "Rio de Janeiro")),
    ("Japan", 0.03, "+81", ("Tokyo", "Osaka")),
)

#: Free-mail providers and their shares among free-mail contacts (all in the shipped list).
FREE_MAIL: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.50), ("hotmail.com", 0.18), ("yahoo.com", 0.14), ("outlook.com", 0.18),
)
#: University domains some students and interns sign up with (``email_domain ends_with .edu``).
UNIVERSITY_DOMAINS = ("stanford.edu", "mit.edu", "berkeley.edu", "nyu.edu", "umich.edu", "utexas.edu")

FIRST_NAMES = (
    "Anna", "Ben", "Carla", "David", "Elena", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kara", "Liam",
    "Maya", "Noah", "Olivia", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Xenia",
    "Yusuf", "Zoe", "Aisha", "Bruno", "Chloe", "Daniel", "Emma", "Farid", "Greta", "Hannah", "Ivan",
    "Julia", "Kenji", "Lena", "Marco", "Nina", "Oscar", "Priya", "Rafael", "Sofia", "Tom", "Ulla",
    "Victor", "Wen", "Yara", "Zack", "Amelia", "Arjun", "Leo", "Mia", "Lucas", "Chen", "Sara", "Omar",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Martinez", "Lopez",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Green", "Baker",
    "Adams", "Nelson", "Hill", "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans",
    "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan",
    "Schmidt", "Müller", "Weber", "Dubois", "Laurent", "Rossi", "Bianchi", "Jansen", "de Vries",
    "Nilsson", "Svensson", "Tanaka", "Sato", "Patel", "Sharma", "Kumar", "Silva", "Santos", "Novak",
)

#: Company names are ``<prefix><core> <suffix>``; past the combinations a number is appended.
COMPANY_PREFIXES = (
    "Blue", "Bright", "North", "Swift", "Silver", "Red", "Green", "Clear", "True", "Open", "Deep", "Next",
    "Prime", "Smart", "Bold", "Quant", "Nova", "Hyper", "Cloud", "Data", "Peak", "Iron", "Sun", "Star",
    "Lumen", "Vector", "Pixel", "Atlas", "Orbit", "Terra",
)
COMPANY_CORES = (
    "stone", "path", "field", "wave", "forge", "leaf", "bridge", "point", "line", "spark", "scale",
    "loop", "grid", "stack", "flow", "works", "mark", "base", "lane", "gate", "wind", "ridge", "port",
    "hub", "mind", "ware", "sight", "craft", "labs", "shift",
)
COMPANY_SUFFIXES = ("Inc", "Labs", "Systems", "Group", "Software", "Analytics", "Health", "GmbH",
                    "Partners", "Technologies", "Solutions", "Retail")

OWNERS = ("Dana Reyes", "Marcus Webb", "Priya Nair", "Tom Fischer", "Lucy Chen", "Sven Olsen")
#: Share of contacts not yet assigned to a sales rep.
OWNER_MISSING = 0.20

LEAD_SOURCES: tuple[tuple[str, float], ...] = (
    ("organic_search", 0.30), ("paid_search", 0.15), ("social", 0.12), ("referral", 0.10),
    ("direct", 0.10), ("email", 0.08), ("event", 0.08), ("partner", 0.07),
)

#: Page URLs by section; the generator picks a section per page view, then a page within it.
PAGES: dict[str, tuple[str, ...]] = {
    "home": ("/",),
    "pricing": ("/pricing", "/pricing?plan=team", "/pricing?plan=enterprise", "/de/pricing"),
    "product": ("/product/scoring", "/product/workflows", "/product/integrations", "/product/reports",
                "/product/api", "/product/security"),
    "docs": ("/docs/getting-started", "/docs/models", "/docs/rules", "/docs/decay", "/docs/api",
             "/docs/webhooks", "/docs/import", "/docs/faq"),
    "blog": tuple(f"/blog/{slug}" for slug in (
        "what-is-lead-scoring", "mql-vs-sql", "intent-data-101", "b2b-funnel-benchmarks",
        "revops-playbook", "scoring-decay-explained", "abm-in-2025", "email-deliverability",
        "webinar-follow-up", "pipeline-reviews", "churn-signals", "hiring-sdrs",
        "marketing-attribution", "crm-hygiene", "content-calendar", "sales-handoff")),
    "customers": ("/customers", "/customers/fintech-case-study", "/customers/saas-case-study"),
    "company": ("/about", "/contact", "/partners"),
    "careers": ("/careers", "/careers/sdr", "/careers/engineering"),
}

REFERRERS = ("https://www.google.com/", "https://www.linkedin.com/", "https://www.bing.com/",
             "https://news.ycombinator.com/", "https://twitter.com/", "https://www.g2.com/")
WEB_CAMPAIGNS = ("spring-launch", "retargeting", "g2-review", "linkedin-abm", "partner-webinar")
WEBINARS = ("webinar-scoring-masterclass", "webinar-revops-roundtable", "webinar-product-tour",
            "webinar-abm-live")
EMAIL_SUBJECTS = (
    "Your monthly RevOps digest", "3 signals your leads are ready to buy", "New: decay-aware scoring",
    "Invitation: live product tour", "Benchmark report inside", "How Acme doubled SQL conversion",
    "Last chance: webinar seats", "Your trial is waiting", "Release notes", "We miss you",
)
FORMS = ("contact-us", "newsletter-signup", "pricing-quote", "trial-signup", "webinar-registration")
DOWNLOADS = ("ebook-lead-scoring", "whitepaper-revops", "report-benchmark-2025", "template-mql-sla")
