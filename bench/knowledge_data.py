"""The knowledge benchmark's corpus (bench/knowledge.py): facts a community writes down, each with a question asked
in other words, in English and Russian; chatter that answers nothing; and questions nothing in it answers."""

from __future__ import annotations

# (passage, question): the question's answer is in the passage; it shares some words with it, not all.
FACTS_EN = [
    (
        "Be kind to other members. Harassment, slurs and personal attacks get an immediate ban.",
        "Will I get banned for personal attacks?",
    ),
    (
        "No advertising: posting invite links to other servers is only allowed in #partners.",
        "Where can I post an invite link to my server?",
    ),
    (
        "Voice chat events run every Friday at 18:00 UTC in the Lounge channel.",
        "What time are the Friday voice events?",
    ),
    ("To get the Verified role, link your GitHub account with the /verify command.", "How do I become verified?"),
    ("The Contributor role is given after your first merged pull request.", "When do I get the Contributor role?"),
    (
        "Bug reports go in #bugs with steps to reproduce, the version number and your operating system.",
        "What should a bug report include?",
    ),
    (
        "Feature requests are collected in the #ideas forum; upvote the ones you want most.",
        "Where do I suggest a new feature?",
    ),
    ("The bot's source code is on GitHub under the MIT license.", "Which license is the source code under?"),
    ("Moderators are picked from active members every six months by a community vote.", "How are moderators chosen?"),
    ("You can appeal a ban by emailing appeals@example.org within 30 days.", "How do I appeal my ban?"),
    (
        "Spoilers for new episodes must be wrapped in spoiler tags for one week after release.",
        "How long must spoilers be hidden after an episode comes out?",
    ),
    ("Memes belong in #memes only; memes in other channels are deleted.", "Can I post memes in general?"),
    (
        "The server's official language is English, except in the #international channels.",
        "Which language should I write in?",
    ),
    ("Self-promotion is allowed once per week in #showcase.", "How often can I promote my own work?"),
    (
        "Do not ping moderators for questions the FAQ answers; use @helper instead.",
        "Whom should I ping with a question?",
    ),
    (
        "Nicknames must be readable and mentionable; unreadable nicknames are reset.",
        "What happens if my nickname is unreadable?",
    ),
    ("The minimum age to join is 16, as stated in our terms.", "How old do I have to be to join?"),
    ("NSFW content is banned everywhere on this server, including profile pictures.", "Are NSFW avatars allowed?"),
    (
        "Direct messaging members to sell things is forbidden and leads to a kick.",
        "Can I sell things to members in DMs?",
    ),
    (
        "The weekly newsletter goes out on Mondays; subscribe with the Newsletter role in #roles.",
        "How do I subscribe to the newsletter?",
    ),
    ("Server boosters get a custom colour role and access to #booster-lounge.", "What perks do boosters get?"),
    ("The staging server listens on port 8443 and is reset every night at 03:00 UTC.", "Which port does staging use?"),
    (
        "Production deploys happen on Tuesdays and Thursdays after the test suite passes.",
        "On which days do we deploy to production?",
    ),
    ("Use Python 3.11 for the project; older versions are not supported.", "Which Python version do I need?"),
    ("Run the test suite with pytest from the repository root.", "How do I run the tests?"),
    (
        "Code style is enforced by ruff with a line length of 120 characters.",
        "What line length does the code style use?",
    ),
    ("Translations are managed on Weblate; anyone can contribute a language.", "Where can I help translate?"),
    ("The yearly community meetup is held in Berlin in September.", "Where is the annual meetup?"),
    ("Tickets for the meetup cost 25 euros and include lunch.", "How much does a meetup ticket cost?"),
    ("Refunds for meetup tickets are possible until two weeks before the event.", "Can I get a refund for my ticket?"),
    (
        "The art contest theme this month is underwater cities; entries close on the 28th.",
        "What is this month's art contest theme?",
    ),
    ("Contest winners receive a Nitro subscription and a special badge.", "What do contest winners get?"),
    ("Each member may submit only one entry per contest.", "How many entries can I submit to a contest?"),
    ("AI-generated images are not accepted in the art contest.", "Can I enter an AI generated picture?"),
    ("Study sessions run in the Library voice channel on weekdays from 9 to 12 UTC.", "When are study sessions held?"),
    (
        "Cameras are optional in study sessions, but microphones must stay muted.",
        "Do I have to turn my camera on while studying?",
    ),
    (
        "The Minecraft server address is mc.example.org and it runs version 1.20.",
        "What is the Minecraft server address?",
    ),
    (
        "Griefing on the Minecraft server leads to a permanent ban from the game server.",
        "What happens to griefers in Minecraft?",
    ),
    ("The Minecraft world is backed up every six hours.", "How often is the Minecraft world backed up?"),
    ("Voice channels are limited to 10 people except the Stage.", "How many people fit in a voice channel?"),
    ("Recording voice chats requires consent from everyone present.", "May I record a voice chat?"),
    ("Music bots are allowed only in the Music voice channel.", "Where can I use a music bot?"),
    ("Giveaways are announced in #announcements and drawn by the giveaway bot.", "Where are giveaways announced?"),
    ("Alt accounts are not allowed; each person may use one account.", "Am I allowed to use an alt account?"),
    ("Political and religious debates are not allowed on this server.", "Can we discuss politics here?"),
    ("Warnings expire after 90 days; three active warnings mean a temporary mute.", "When do warnings expire?"),
    ("A temporary mute lasts 24 hours for a first offence.", "How long does a mute last?"),
    ("Report rule breaks with the /report command or by messaging ModMail.", "How do I report someone breaking rules?"),
    ("ModMail replies within 48 hours on average.", "How fast does ModMail answer?"),
    (
        "Partnership requests need at least 500 members and an active moderation team.",
        "What do we require for a partnership?",
    ),
    (
        "Events are planned in the #event-planning channel, open to anyone with the Planner role.",
        "Who can help plan events?",
    ),
    ("The Planner role can be requested from any administrator.", "How do I get the Planner role?"),
    ("Emoji suggestions are voted on each month; the top three are added.", "How are new emojis chosen?"),
    ("Sticker uploads are limited to staff because of the server's boost level.", "Why can't I upload stickers?"),
    ("Links to pirated software are removed and the poster is warned.", "What happens if I share pirated software?"),
    ("Job offers may be posted in #jobs with salary range and location.", "What must a job posting include?"),
    ("Mentorship pairs are matched every quarter; sign up with the Mentee role.", "How do I sign up for mentorship?"),
    ("Office hours with the maintainers are on Wednesdays at 16:00 UTC.", "When are the maintainers' office hours?"),
    ("The documentation lives at docs.example.org and is built from the docs folder.", "Where is the documentation?"),
    (
        "Security issues should be reported privately to security@example.org, never in public channels.",
        "How should I report a security vulnerability?",
    ),
]

FACTS_RU = [
    ("Будьте вежливы: оскорбления и травля участников ведут к немедленному бану.", "Забанят ли меня за оскорбления?"),
    (
        "Реклама запрещена: ссылки-приглашения на другие серверы можно публиковать только в #партнёры.",
        "Где можно разместить ссылку-приглашение на свой сервер?",
    ),
    (
        "Голосовые вечера проходят каждую пятницу в 21:00 по Москве в канале Гостиная.",
        "Во сколько начинаются голосовые вечера по пятницам?",
    ),
    ("Чтобы получить роль Проверенный, привяжите аккаунт GitHub командой /verify.", "Как получить роль Проверенный?"),
    (
        "Сообщения об ошибках пишите в #баги: шаги воспроизведения, версия и операционная система.",
        "Что указать в сообщении об ошибке?",
    ),
    ("Идеи новых функций собираются в форуме #идеи, голосуйте за понравившиеся.", "Куда предлагать новые функции?"),
    ("Модераторов выбирают из активных участников раз в полгода голосованием сообщества.", "Как выбирают модераторов?"),
    ("Обжаловать бан можно письмом на appeals@example.org в течение 30 дней.", "Как обжаловать бан?"),
    (
        "Спойлеры к новым сериям нужно скрывать спойлер-тегами неделю после выхода.",
        "Сколько времени нужно скрывать спойлеры?",
    ),
    (
        "Мемы публикуются только в канале #мемы, в остальных каналах они удаляются.",
        "Можно ли публиковать мемы в общем чате?",
    ),
    ("Минимальный возраст участника сервера — 16 лет.", "С какого возраста можно вступить на сервер?"),
    ("Контент 18+ запрещён везде на сервере, включая аватарки.", "Разрешены ли аватарки 18+?"),
    (
        "Продавать что-либо участникам в личных сообщениях запрещено, за это кик.",
        "Можно ли продавать вещи участникам в личке?",
    ),
    (
        "Еженедельная рассылка выходит по понедельникам, подписка через роль Рассылка в #роли.",
        "Как подписаться на рассылку?",
    ),
    ("Бустеры сервера получают цветную роль и доступ в #бустер-зал.", "Что получают бустеры?"),
    ("Ежегодная встреча сообщества проходит в Берлине в сентябре.", "Где проходит ежегодная встреча?"),
    ("Билет на встречу стоит 25 евро, обед включён.", "Сколько стоит билет на встречу?"),
    ("Вернуть деньги за билет можно не позднее чем за две недели до встречи.", "Можно ли вернуть деньги за билет?"),
    (
        "Тема художественного конкурса в этом месяце — подводные города, приём работ до 28 числа.",
        "Какая тема конкурса рисунков в этом месяце?",
    ),
    ("Победители конкурса получают подписку Nitro и особый значок.", "Что получают победители конкурса?"),
    (
        "Учебные сессии проходят в голосовом канале Библиотека по будням с 9 до 12 по Москве.",
        "Когда проходят учебные сессии?",
    ),
    ("Адрес сервера Minecraft — mc.example.org, версия 1.20.", "Какой адрес у сервера Minecraft?"),
    ("За гриферство на сервере Minecraft дают вечный бан на игровом сервере.", "Что будет за гриферство в Minecraft?"),
    (
        "Мир Minecraft сохраняется в резервную копию каждые шесть часов.",
        "Как часто делается резервная копия мира Minecraft?",
    ),
    ("В голосовых каналах не больше 10 человек, кроме Трибуны.", "Сколько человек помещается в голосовом канале?"),
    ("Записывать голосовой чат можно только с согласия всех присутствующих.", "Можно ли записывать голосовой чат?"),
    ("Музыкальных ботов можно использовать только в канале Музыка.", "Где можно включать музыкального бота?"),
    ("Розыгрыши объявляются в #объявления и проводятся ботом.", "Где объявляют розыгрыши?"),
    ("Твинки запрещены: у каждого человека один аккаунт.", "Можно ли заводить твинк?"),
    ("Споры о политике и религии на сервере запрещены.", "Можно ли обсуждать политику?"),
    (
        "Предупреждения сгорают через 90 дней; три активных предупреждения — временный мут.",
        "Когда сгорают предупреждения?",
    ),
    ("Временный мут за первое нарушение длится 24 часа.", "Сколько длится мут?"),
    ("Сообщить о нарушении можно командой /report или через ModMail.", "Как пожаловаться на нарушителя?"),
    ("Вакансии публикуются в #работа с указанием зарплаты и города.", "Что нужно указать в вакансии?"),
    ("Наставников распределяют раз в квартал; запишитесь через роль Ученик.", "Как записаться к наставнику?"),
    ("Документация находится на docs.example.org и собирается из папки docs.", "Где найти документацию?"),
    ("Уязвимости сообщайте приватно на security@example.org, не в открытых каналах.", "Как сообщить об уязвимости?"),
    ("Для проекта нужен Python 3.11, старые версии не поддерживаются.", "Какая версия Python нужна?"),
    (
        "Выкладка в продакшн бывает по вторникам и четвергам после прохождения тестов.",
        "В какие дни выкладка в продакшн?",
    ),
    ("Переводы ведутся на Weblate, помочь может любой.", "Где помочь с переводом?"),
]

# Conversation that answers nothing (a channel's history is mostly this).
_PEOPLE = ["Anna", "Boris", "Chen", "Dana", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jonas"]
_FOODS = ["pizza", "ramen", "salad", "tacos", "soup", "curry", "dumplings", "pancakes"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CHATTER = [
    f"{p} had {f} for lunch on {d} and it was {'great' if i % 2 else 'okay'}."
    for i, (p, f, d) in enumerate((p, f, d) for p in _PEOPLE for f in _FOODS for d in _DAYS[:2])
] + [
    f"{p}: лол, {('кофе', 'чай', 'сок')[i % 3]} сегодня {('вкусный', 'холодный')[i % 2]}"
    for i, p in enumerate(_PEOPLE * 3)
]

# Questions the corpus does not answer; the bot should cite nothing for them.
UNRELATED = [
    "What is the capital of Peru?",
    "How many bones are in the human body?",
    "Who painted the Mona Lisa?",
    "What is the boiling point of mercury?",
    "How do I bake sourdough bread?",
    "What is the speed of light in vacuum?",
    "Who won the 1998 football world cup?",
    "How tall is Mount Everest?",
    "What does DNA stand for?",
    "How do I change a flat bicycle tyre?",
    "What is the population of Canada?",
    "Which planet has the most moons?",
    "How do you say thank you in Japanese?",
    "What is the chemical formula of table salt?",
    "Who wrote War and Peace?",
    "How long do elephants live?",
    "What is a prime number?",
    "Why is the sky blue?",
    "How does photosynthesis work?",
    "What is the tallest building in the world?",
    "How do I fold a paper crane?",
    "What causes earthquakes?",
    "How many strings does a violin have?",
    "What is the currency of Switzerland?",
    "How do vaccines work?",
    "When did the Roman Empire fall?",
    "What is the square root of 144?",
    "How do I tie a tie?",
    "Which ocean is the deepest?",
    "What do pandas eat?",
    "Какая столица Перу?",
    "Сколько костей в теле человека?",
    "Кто написал картину Мона Лиза?",
    "Как испечь хлеб на закваске?",
    "Какова скорость света?",
    "Кто выиграл чемпионат мира по футболу в 1998 году?",
    "Какая высота у Эвереста?",
    "Почему небо голубое?",
    "Как работает фотосинтез?",
    "Сколько струн у скрипки?",
    "Какая валюта в Швейцарии?",
    "Как завязать галстук?",
    "Какой океан самый глубокий?",
    "Что едят панды?",
    "Когда пала Римская империя?",
    "Сколько живут слоны?",
    "Что такое простое число?",
    "Как работают вакцины?",
    "Кто написал Войну и мир?",
    "Как сложить журавлика из бумаги?",
]
