// The finalisation form's comment counter: "n / 500 caractères" follows what is typed.
document.querySelectorAll("textarea[data-counter]").forEach((area) => {
  const shown = document.getElementById(area.dataset.counter).querySelector("span");
  area.addEventListener("input", () => { shown.textContent = String(area.value.length); });
});
