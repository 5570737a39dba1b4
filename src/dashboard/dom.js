/**
 * Small DOM builders shared by the dashboard's panels (no innerHTML: the CSP and escaping stay simple).
 */

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * @param {string} label
 * @param {string} ariaLabel
 * @param {() => void} onClick
 */
export function button(label, ariaLabel, onClick) {
  const b = /** @type {HTMLButtonElement} */ (el('button', 'small', label));
  b.type = 'button';
  b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', () => {
    if (b.getAttribute('aria-disabled') !== 'true') onClick();
  });
  return b;
}
