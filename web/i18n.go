package web

import (
	"encoding/json"
	"net/http"
)

// pageLang is ?lang=en or Russian, for the pages without a login (capture, terminal).
func pageLang(r *http.Request) (lang string, t map[string]string, js string) {
	lang = "ru"
	if r.URL.Query().Get("lang") == "en" {
		lang = "en"
	}
	b, _ := json.Marshal(messages[lang])
	return lang, messages[lang], string(b)
}

// messages are the pages' words in Russian (the default: these are Russian
// clinics) and English. Pages get the user's language; scripts get the same
// dictionary in the body's data-i18n attribute.
var messages = map[string]map[string]string{
	"ru": {
		"product": "contactd", "review": "Разбор контактов", "monitor": "Монитор", "mirror": "Зеркало", "audit": "Журнал доступа",
		"logout": "Выйти", "login": "Вход", "name": "Имя пользователя", "password": "Пароль", "sign_in": "Войти",
		"login_failed": "Неверное имя или пароль", "forbidden": "Нет доступа", "forbidden_text": "У вашей роли нет доступа к этой странице.",
		"to_home": "На главную",
		"order":   "Порядок", "order_default": "сначала негативные", "order_likely": "сначала вероятно недовольные", "likely": "Риск недовольства",
		"reason_patient_negative": "пациент раздражён или расстроен", "reason_patient_angry": "пациент злится", "reason_patient_pleased": "пациент доволен", "reason_patient_valence": "тон пациента негативный",
		"reason_patient_worsening": "пациенту становилось хуже", "reason_raised_voices": "сотрудник повышал голос", "reason_interruptions": "перебивания",
		"reason_employee_tense": "сотрудник напряжён", "reason_long_contact": "дольше обычного",
		"set": "Оценка", "set_all": "Все", "set_negative": "Негативные", "set_neutral": "Нейтральные", "set_positive": "Позитивные", "set_unrated": "Без оценки",
		"station": "Стойка", "employee": "Сотрудник", "from": "С", "to": "По", "reviewed": "Разбор", "reviewed_all": "Все",
		"reviewed_no": "Не разобраны", "reviewed_yes": "Разобраны", "flag": "Отметка", "cause": "Причина", "any": "Любая", "anyone": "Все",
		"apply": "Показать", "contacts_found": "Найдено контактов", "time": "Время", "duration": "Длительность", "rating": "Оценка",
		"causes": "Причины", "note": "Комментарий", "save": "Сохранить", "mark_reviewed": "Разобрано", "saved": "Сохранено",
		"export": "Выгрузить отмеченные", "exporting": "Готовлю архив…", "select_contact": "Выберите контакт в списке слева.",
		"no_clip": "Запись не сохранилась.", "no_play": "Записи слушают только специалисты по качеству и администраторы.",
		"timeline": "Эмоции по секундам", "patient": "Пациент", "staff": "Сотрудник", "unattributed": "Речь (не разделена)",
		"emotion_neutral": "нейтрально", "emotion_happy": "радость", "emotion_sad": "грусть", "emotion_angry": "гнев",
		"label_emotion": "Эмоция на слух", "not_labelled": "—", "pareto": "Причины (Парето)", "pareto_empty": "Причины ещё не отмечены.",
		"by_week": "По неделям", "week": "Неделя", "cumulative": "накопленная доля", "arrive": "пришёл", "leave": "ушёл", "press": "оценка",
		"flag_misuse": "разные нажатия подряд", "flag_leave_missing": "уход не отмечен", "flag_no_media": "нет записи",
		"flag_overrun": "приём затянулся", "flag_unscheduled": "вне расписания",
		"flag_sensor_missed": "датчик не заметил (по голосам)", "flag_not_heard": "голоса пациента не слышно", "flag_sensor_stuck": "датчик завис",
		"conversation": "Разговор врача и пациента", "appointment": "Запись", "doctor": "Врач", "doctor_share": "Доля речи врача",
		"turns": "Реплик", "interruptions": "Перебиваний (врач / пациент)", "overlaps": "Наложений", "microphones": "Микрофоны", "mics_two": "2: петличный врача и комнатный", "mics_one": "1: реплики и перебивания приблизительны", "mics_apart": "голоса разделены на", "mics_close": "голоса плохо разделены, счёт приблизителен:", "longest_monologue": "Самый длинный монолог врача",
		"longest_silence": "Самая длинная пауза", "speech_rate": "Темп речи, слогов/с (врач / пациент)", "first_say": "Пациент договорил впервые через",
		"opening": "Первая реплика пациента", "trend": "Настроение пациента", "trend_improving": "улучшилось", "trend_steady": "без перемен",
		"trend_worsening": "ухудшилось", "trend_unknown": "не определено", "seconds_short": "с",
		"on_shift": "На смене", "off_shift": "Не на смене", "live": "в эфире", "offline": "нет связи", "today": "Сегодня",
		"baseline": "обычно", "negative_share": "Негатив", "positive_share": "Позитив", "speech_min": "Речь, мин", "last_14d": "14 дней",
		"warning_exhaustion": "Риск эмоционального выгорания: неделя хуже обычного и ухудшается. Поговорите с сотрудником.",
		"warning_acute":      "Напряжённый день: речь заметно негативнее обычного.", "no_speech_today": "Сегодня речи ещё не было.",
		"indices": "Индексы оценок", "csi": "CSI", "dsi": "DSI", "csi_hint": "высшие оценки на обслуженный контакт, %", "dsi_hint": "низшие оценки на обслуженный контакт, %",
		"contacts": "Контакты", "rated": "С оценкой", "days30": "30 дней", "health": "Состояние стоек", "last_reading": "последний звук",
		"seconds_ago": "с назад", "never": "не было", "prometheus": "Prometheus", "updated": "обновлено",
		"mirror_calm": "Спокойно", "mirror_warm": "Тепло", "mirror_tense": "Напряжённо", "mirror_low": "Устало", "mirror_quiet": "Тишина",
		"mirror_waiting": "Жду звук со стойки…", "smile": "Улыбка за последние секунды", "smile_share": "Улыбка", "face_lane": "Лицо сотрудника", "emotion_fear": "страх", "emotion_disgust": "отвращение", "emotion_surprise": "удивление", "mirror_today": "Сегодня", "mirror_hint": "Как звучит ваш голос сейчас. Видно только вам.",
		"choose_employee": "Сотрудник", "audit_user": "Пользователь", "audit_action": "Действие", "audit_contact": "Контакт", "audit_from": "Адрес",
		"audit_chain": "Целостность журнала", "action_play": "просмотр", "action_download": "скачивание", "action_export": "выгрузка",
		"lang_switch": "English", "loading": "Загрузка…", "error": "Ошибка", "min": "мин", "s": "с",
		"capture_title": "Запись", "capture_desk": "Стойка", "capture_not_connected": "нет связи", "capture_token": "Токен стойки",
		"capture_start": "Начать запись", "capture_arrive": "Пациент подошёл", "capture_leave": "Пациент ушёл", "capture_stop": "Остановить",
		"capture_asking": "запрашиваю микрофон и камеру…", "capture_recording": "идёт запись", "capture_paused": "запись приостановлена: вне времени приёма", "capture_lost": "связь потеряна, переподключаюсь…",
		"capture_refused": "сервер отказал", "capture_stopped": "остановлено", "capture_not_sent": "нет связи, событие не отправлено",
		"capture_sent_arrive": "подошёл", "capture_sent_leave": "ушёл", "capture_server": "сервер",
		"terminal_title": "Как прошёл ваш визит?", "terminal_ask": "Как прошёл ваш визит сегодня?", "terminal_thanks": "Спасибо!",
		"terminal_failed": "Не получилось. Пожалуйста, скажите об этом сотруднику.",
	},
	"en": {
		"product": "contactd", "review": "Contact review", "monitor": "Monitor", "mirror": "Mirror", "audit": "Access log",
		"logout": "Log out", "login": "Sign in", "name": "User name", "password": "Password", "sign_in": "Sign in",
		"login_failed": "Wrong name or password", "forbidden": "Access denied", "forbidden_text": "Your role cannot open this page.",
		"to_home": "Home",
		"order":   "Order", "order_default": "negatives first", "order_likely": "most likely dissatisfied first", "likely": "Likely negative",
		"reason_patient_negative": "patient upset or sad", "reason_patient_angry": "patient angry", "reason_patient_pleased": "patient sounded pleased", "reason_patient_valence": "patient's tone negative",
		"reason_patient_worsening": "patient grew unhappier", "reason_raised_voices": "employee's raised voice", "reason_interruptions": "interruptions",
		"reason_employee_tense": "employee tense", "reason_long_contact": "longer than usual",
		"set": "Rating", "set_all": "All", "set_negative": "Negative", "set_neutral": "Neutral", "set_positive": "Positive", "set_unrated": "Unrated",
		"station": "Desk", "employee": "Employee", "from": "From", "to": "To", "reviewed": "Review", "reviewed_all": "All",
		"reviewed_no": "Not reviewed", "reviewed_yes": "Reviewed", "flag": "Flag", "cause": "Cause", "any": "Any", "anyone": "Everyone",
		"apply": "Show", "contacts_found": "Contacts found", "time": "Time", "duration": "Length", "rating": "Rating",
		"causes": "Causes", "note": "Note", "save": "Save", "mark_reviewed": "Reviewed", "saved": "Saved",
		"export": "Export selected", "exporting": "Preparing the archive…", "select_contact": "Choose a contact in the list.",
		"no_clip": "No recording was kept.", "no_play": "Only quality officers and admins play recordings.",
		"timeline": "Emotion second by second", "patient": "Patient", "staff": "Employee", "unattributed": "Speech (not separated)",
		"emotion_neutral": "neutral", "emotion_happy": "happy", "emotion_sad": "sad", "emotion_angry": "angry",
		"label_emotion": "Emotion heard", "not_labelled": "—", "pareto": "Causes (Pareto)", "pareto_empty": "No causes tagged yet.",
		"by_week": "By week", "week": "Week", "cumulative": "cumulative share", "arrive": "arrived", "leave": "left", "press": "rating",
		"flag_misuse": "different presses in a row", "flag_leave_missing": "leave not marked", "flag_no_media": "no recording",
		"flag_overrun": "consultation overran", "flag_unscheduled": "not in the schedule",
		"flag_sensor_missed": "missed by the sensor (heard)", "flag_not_heard": "no patient's voice heard", "flag_sensor_stuck": "sensor stuck on",
		"conversation": "Doctor–patient conversation", "appointment": "Appointment", "doctor": "Doctor", "doctor_share": "Doctor's share of talk",
		"turns": "Turns", "interruptions": "Interruptions (doctor / patient)", "overlaps": "Overlaps", "microphones": "Microphones", "mics_two": "2: the doctor's lapel and the room's", "mics_one": "1: turns and interruptions are estimates", "mics_apart": "voices apart by", "mics_close": "voices too close, counts are estimates:", "longest_monologue": "Doctor's longest monologue",
		"longest_silence": "Longest silence", "speech_rate": "Speech rate, syllables/s (doctor / patient)", "first_say": "Patient first finished a say after",
		"opening": "Patient's opening", "trend": "Patient's mood", "trend_improving": "improved", "trend_steady": "steady",
		"trend_worsening": "worsened", "trend_unknown": "unknown", "seconds_short": "s",
		"on_shift": "On shift", "off_shift": "Off shift", "live": "live", "offline": "offline", "today": "Today",
		"baseline": "usual", "negative_share": "Negative", "positive_share": "Positive", "speech_min": "Speech, min", "last_14d": "14 days",
		"warning_exhaustion": "Risk of emotional exhaustion: a week worse than usual, and getting worse. Talk with them.",
		"warning_acute":      "A strained day: speech much more negative than usual.", "no_speech_today": "No speech yet today.",
		"indices": "Rating indices", "csi": "CSI", "dsi": "DSI", "csi_hint": "top-box ratings per contact served, %", "dsi_hint": "bottom-box ratings per contact served, %",
		"contacts": "Contacts", "rated": "Rated", "days30": "30 days", "health": "Desks", "last_reading": "last sound",
		"seconds_ago": "s ago", "never": "never", "prometheus": "Prometheus", "updated": "updated",
		"mirror_calm": "Calm", "mirror_warm": "Warm", "mirror_tense": "Tense", "mirror_low": "Tired", "mirror_quiet": "Quiet",
		"mirror_waiting": "Waiting for sound from the desk…", "smile": "Smile over the last seconds", "smile_share": "Smile", "face_lane": "Employee's face", "emotion_fear": "fear", "emotion_disgust": "disgust", "emotion_surprise": "surprise", "mirror_today": "Today", "mirror_hint": "How your voice sounds right now. Only you see this.",
		"choose_employee": "Employee", "audit_user": "User", "audit_action": "Action", "audit_contact": "Contact", "audit_from": "From",
		"audit_chain": "Log integrity", "action_play": "play", "action_download": "download", "action_export": "export",
		"lang_switch": "Русский", "loading": "Loading…", "error": "Error", "min": "min", "s": "s",
		"capture_title": "Capture", "capture_desk": "Desk", "capture_not_connected": "not connected", "capture_token": "Station token",
		"capture_start": "Start recording", "capture_arrive": "Patient arrived", "capture_leave": "Patient left", "capture_stop": "Stop",
		"capture_asking": "asking for microphone and camera…", "capture_recording": "recording", "capture_paused": "recording paused: outside appointment times", "capture_lost": "connection lost, reconnecting…",
		"capture_refused": "server refused", "capture_stopped": "stopped", "capture_not_sent": "not connected: event not sent",
		"capture_sent_arrive": "arrived", "capture_sent_leave": "left", "capture_server": "server",
		"terminal_title": "How was your visit?", "terminal_ask": "How was your visit today?", "terminal_thanks": "Thank you!",
		"terminal_failed": "Sorry, that did not work. Please tell the staff.",
	},
}
