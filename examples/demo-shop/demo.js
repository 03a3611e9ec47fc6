// The language links set the widget's locale: the tag is added here so it can carry it.
const lang = new URLSearchParams(location.search).get("lang");
if (lang) {
  document.documentElement.lang = lang;
  document.documentElement.dir = ["ar", "he", "fa"].includes(lang) ? "rtl" : "ltr";
}
const tag = document.createElement("script");
tag.src = "/widget.js";
tag.dataset.title = "Lumen Shop";
tag.dataset.accent = "#7a3cff";
if (lang) tag.dataset.locale = lang;
document.body.append(tag);
