// :shortcode: expansion, as the terminal client does it (client/compose,
// which uses github.com/kyokomi/emoji/v2): a code is what lies between
// two colons with no white space in it; a known one becomes its emoji,
// :flag-xx: (two lower-case letters) becomes that pair of regional
// indicators, and anything else stays as typed. The table is emoji.json,
// generated from the same library.

export function expand(table, text) {
  if (!table || !text.includes(':')) return text;
  return text.replace(/:([^:\s]+):/gu, (all, code) => {
    if (Object.hasOwn(table, code)) return table[code];
    const flag = /^flag-([a-z])([a-z])$/.exec(code);
    if (flag) return String.fromCodePoint(0x1f1e6 + flag[1].charCodeAt(0) - 97, 0x1f1e6 + flag[2].charCodeAt(0) - 97);
    return all;
  });
}
