"""The page's CSS and the one script it needs (markers that scroll to their source card)."""

from __future__ import annotations

# Colours are explicit where Gradio's subdued text measured 1.9:1; these are >= 4.5:1 on white.
CSS = """
#rag-title h2 { margin: 0.2em 0; }
.rag-note, .rag-meta { color: #374151; }
.rag-meta { font-size: 0.9em; margin: 0 0 0.6em; }
.rag-warn { color: #7c2d12; background: #fff7ed; border-left: 4px solid #c2410c; padding: 0.4em 0.7em;
  border-radius: 4px; margin: 0.3em 0; }
.rag-source { border: 1px solid #d1d5db; border-radius: 8px; padding: 0.6em 0.8em; margin: 0 0 0.7em;
  overflow-wrap: anywhere; }
.rag-source.rag-flash { outline: 3px solid #2563eb; transition: outline 0.2s; }
.rag-head { font-size: 0.95em; margin-bottom: 0.3em; color: #111827; }
.rag-n { font-weight: 700; color: #1d4ed8; }
.rag-chunk { white-space: pre-wrap; font-size: 0.9em; line-height: 1.45; margin: 0; color: #111827; }
.rag-chunk mark { background: #fde68a; color: #111; padding: 0 0.1em; border-radius: 2px; }
.rag-refusal, .rag-unsupported { border-left: 4px solid #b45309; background: #fffbeb; color: #451a03;
  padding: 0.6em 0.8em; border-radius: 4px; margin: 0 0 0.7em; }
#rag-sources code, .rag-warn code { overflow-wrap: anywhere; white-space: normal; }
#rag-chat strong { cursor: pointer; }
#rag-doc-table { max-width: 100%; overflow-x: auto; }
.rag-doc { white-space: pre-wrap; max-height: 420px; overflow-y: auto; border: 1px solid #d1d5db;
  border-radius: 8px; padding: 0.6em 0.8em; font-size: 0.9em; line-height: 1.45; color: #111827;
  overflow-wrap: anywhere; }
.rag-doc mark { background: #fde68a; color: #111; }
.rag-page { border: 0; border-top: 1px dashed #6b7280; margin: 0.8em 0; }
@media (max-width: 640px) {
  #rag-main { flex-direction: column; }
  #rag-chat { height: 60vh !important; }
}
"""

# Clicking a bold [n] in an answer selects that answer (Gradio's select event shows its sources);
# this then scrolls to card n and flashes it. Only our markers are bold: document text is escaped.
HEAD = """<script>
document.addEventListener('click', (e) => {
  const el = e.target.closest && e.target.closest('#rag-chat strong');
  if (!el) return;
  const m = /^\\[(\\d+)\\]$/.exec(el.textContent.trim());
  if (!m) return;
  let tries = 0;
  const show = () => {
    const card = document.querySelector('#rag-sources [data-n~="' + m[1] + '"]');
    if (card && tries > 2) {
      card.scrollIntoView({behavior: 'smooth', block: 'center'});
      card.classList.add('rag-flash');
      setTimeout(() => card.classList.remove('rag-flash'), 1500);
    } else if (tries++ < 20) setTimeout(show, 100);
  };
  show();
});
</script>"""

# Gradio opens the sidebar whatever the width; on a phone it would cover the chat.
CLOSE_SIDEBAR_ON_PHONE = """() => {
  if (window.innerWidth < 768) document.querySelector('#rag-sidebar.open .toggle-button')?.click();
}"""

SCROLL_TO_MARK = """() => {
  setTimeout(() => document.getElementById('rag-view-mark')?.scrollIntoView({block: 'center'}), 200);
}"""
