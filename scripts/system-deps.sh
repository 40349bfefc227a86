#!/usr/bin/env sh
# Installs the system libraries voice and the window need where the platform lacks them: on Debian/Ubuntu the espeak-ng
# speech synthesizer (pyttsx3's Linux driver), PortAudio (microphone and speaker), Qt's X11/EGL libraries and
# fonts, and Xvfb (screenshots on a machine without a screen). macOS and Windows
# ship their own synthesizers, and sounddevice's wheels carry PortAudio there, so nothing is done.
set -u
command -v apt-get >/dev/null 2>&1 || exit 0
missing=""
for pkg in espeak-ng libespeak-ng1 libportaudio2 libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-randr0 libxcb-render-util0 libxcb-image0 fonts-dejavu-core xvfb; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
echo "Installing system packages for voice and the window:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! { $SUDO apt-get install -y -q $missing >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q $missing >/dev/null; }; }; then
    echo "warning: could not install$missing; voice and the window will report what is missing (install them with apt)." >&2
fi
exit 0
