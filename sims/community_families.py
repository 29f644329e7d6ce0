"""The problem families of the community simulator's bulletins: what an ISP's customers write
about (Wi-Fi, speed, modems, firmware, setup, TV boxes, mobile data, billing, outages, email,
home phone), each with its subjects, symptoms and the fixes that worked, steps and all.

Only data, like ``sims.community_text`` (the words around a bulletin: categories, names,
openers, closers); ``sims.community_seed`` combines both with a seeded RNG. Domains are
reserved example domains (RFC 2606).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Fix:
    tail: str  # completes a title: "<subject> <symptom> — <tail>"
    why: str
    steps_text: str  # steps separated by "|"; `backticks` become <code>
    block: str = ""  # an optional settings/command block (<pre><code>)

    @property
    def steps(self) -> tuple[str, ...]:
        return tuple(self.steps_text.split("|"))


@dataclass(frozen=True, slots=True)
class Family:
    category_id: int
    tags: tuple[str, ...]
    subjects: tuple[str, ...]
    symptoms: tuple[str, ...]
    fixes: tuple[Fix, ...]


_APN: Final = """APN:       internet.example
MMSC:      http://mms.example.net/servlets/mms
MMS proxy: 10.10.10.10
MMS port:  8080
APN type:  default,supl,mms"""
_MAIL: Final = """Incoming (IMAP): imap.mail.example.net   port 993   SSL/TLS
Outgoing (SMTP): smtp.mail.example.net   port 587   STARTTLS
Username:        your full email address"""
_PING: Final = """$ ping -c 5 8.8.8.8
64 bytes from 8.8.8.8: icmp_seq=1 ttl=117 time=14.2 ms
64 bytes from 8.8.8.8: icmp_seq=2 ttl=117 time=13.9 ms
--- 8.8.8.8 ping statistics ---
5 packets transmitted, 5 received, 0% packet loss"""

# A table, not code: one family per block, one fix per few lines.
# fmt: off
FAMILIES: Final = (
    Family(5, ("wifi", "router"),
        ("Router", "Hub 4", "Archer AX55", "Fritz!Box 7530", "Mesh Wi-Fi"),
        ("keeps dropping Wi-Fi every evening", "drops Wi-Fi whenever the microwave is on",
         "loses the 5 GHz network after a few hours",
         "disconnects the phones but never the laptop"),
        (Fix("fixed by changing channel",
             "every network on our street sat on channel 6, and in the evening all got busy.",
             "Open `http://192.168.1.1` and log in with the password on the sticker|Go to "
             "Wireless → Advanced|Set the 2.4 GHz channel to 1 (or 11), width 20 MHz|Save; "
             "Wi-Fi comes back within a minute"),
         Fix("fixed by splitting the 2.4 and 5 GHz names",
             "band steering kept pushing devices onto 5 GHz, which does not reach upstairs.",
             "Open the router page and go to Wireless|Turn off Smart Connect (band steering)|"
             "Give the 5 GHz network its own name, e.g. add `-5G`|Join each device to the band "
             "that suits the room it lives in"),
         Fix("fixed by moving the router off the floor",
             "it sat on the floor behind the TV by the fish tank; water and metal eat Wi-Fi.",
             "Put it on a shelf at chest height, in the open|Keep it a metre from the TV, the "
             "microwave and the cordless phone base|Point one antenna up and one sideways|Run a "
             "speed test in every room"),
         Fix("fixed by turning off Wi-Fi power save",
             "phones in power-save mode missed the router's wake-ups and got kicked off.",
             "Open Wireless → Professional settings|Turn off WMM APSD (power save)|Set the DTIM "
             "interval to 1|Forget and rejoin the network on the phones")),
    ),
    Family(5, ("speed", "broadband"),
        ("Fibre 500", "Fibre 1 Gig", "VDSL line", "Cable 350", "Broadband"),
        ("only gets a third of the advertised speed", "slows to a crawl after 8 pm",
         "is fast on cable but slow on Wi-Fi", "tests fine but video calls keep freezing"),
        (Fix("an old Ethernet cable was the bottleneck",
             "the cable to my PC was an old Cat5 that only linked at 100 Mbit/s.",
             "Check the link speed: `wmic nic where NetEnabled=true get Name,Speed`|If it says "
             "100000000, the cable or port is the limit|Swap in a Cat6 cable (the one in the "
             "router box is fine)|Test again, wired",
             _PING),
         Fix("QoS was throttling everything",
             "the router's QoS still had the upload limit from our old copper line.",
             "Open Advanced → QoS|Turn QoS off, or set limits to 90% of your real speed|Save "
             "and reboot|Run the speed test again from a wired device"),
         Fix("old powerline adapters were the limit",
             "powerline adapters from 2014 top out around 80 Mbit/s through our wiring.",
             "Plug the PC straight into the router as a test|If it is fast there, the adapters "
             "are the problem|Replace them, or use a mesh point instead|Never plug them into "
             "extension strips")),
    ),
    Family(6, ("modem", "dsl"),
        ("Modem", "Cable modem", "DSL modem", "ONT box", "Hub 3"),
        ("loses sync several times a day", "has a DSL light that blinks and never goes solid",
         "reboots itself at random", "shows a red online light every morning"),
        (Fix("fixed with a microfilter on the second socket",
             "a socket upstairs had a phone with no filter; every ring killed the sync.",
             "Find every phone socket in the house|Put a microfilter on each one in use|Better: "
             "plug the modem into the master socket|Watch the uptime counter for a day"),
         Fix("a loose coax splitter behind the TV",
             "the splitter feeding the modem and the TV box had worked loose and corroded.",
             "Follow the coax from the wall to the modem|Hand-tighten every F connector|Remove "
             "any splitter you do not need|Check downstream power at `http://192.168.100.1`: -7 "
             "to +7 dBmV is good"),
         Fix("the power supply was dying",
             "the modem's power brick ran hot and the modem browned out under load.",
             "Feel the power supply: warm is fine, hot is not|Check the label matches the modem "
             "(12 V, 1.5 A or more)|Ask support for a replacement PSU; mine came in two days|"
             "Keep it off the carpet")),
    ),
    Family(7, ("firmware", "router"),
        ("Hub 4", "Archer AX55", "Mesh satellite", "Cable modem", "Fritz!Box 7530"),
        ("got stuck on a firmware update overnight",
         "lost all its settings after the automatic update",
         "boot-loops since the latest firmware", "shows a blinking white light after updating"),
        (Fix("recovered with a 30-30-30 reset",
             "the update had half-written and the router could not pick an image to boot.",
             "Power on, hold reset for 30 seconds|Still holding, unplug power for 30 seconds|"
             "Plug back in, still holding, for 30 more seconds|Log in with the default password "
             "from the sticker and set it up again"),
         Fix("rolled back from the recovery page",
             "the new firmware broke PPPoE on our line; the previous version was fine.",
             "Download the previous firmware from the maker's site|Give your PC `192.168.0.66` "
             "/ `255.255.255.0` and plug in by cable|Open `http://192.168.0.1/recovery.html` "
             "and upload the file|Turn off automatic updates until a fixed version is out"),
         Fix("waited it out and restored the backup",
             "staged updates take 20 minutes on mesh kits; I pulled the plug too early.",
             "Leave it for 30 minutes while the light blinks|If it comes back empty, go to "
             "System → Backup|Restore the `.cfg` file you saved earlier|Save a fresh backup "
             "once it works")),
    ),
    Family(8, ("setup", "new-customer"),
        ("New router", "Replacement hub", "Fibre install", "Router after moving house"),
        ("won't get an internet connection on day one", "shows No WAN after the engineer left",
         "asks for PPPoE details I never got", "connects to Wi-Fi but nothing loads"),
        (Fix("the VLAN ID had to be set",
             "on fibre the connection only comes up when the router tags the right VLAN.",
             "Open Internet → WAN settings|Enable VLAN tagging with ID `10` (see welcome email)|"
             "Pick PPPoE or DHCP as your welcome email says|Save and give it two minutes"),
         Fix("the PPPoE login is in the app",
             "the login is not in the welcome pack any more; it lives in the account app.",
             "Open the account app → My services → Broadband|Tap Show connection details|Enter "
             "the username (ends in `@fibre.example.net`) and password|Save and reboot"),
         Fix("the line was not activated yet",
             "the engineer finished before the activation window; the line was not live.",
             "Check the activation date in your order confirmation|Until then the router shows "
             "No WAN whatever you do|Past the date? Ask for a line activation check|Reboot the "
             "ONT, then the router")),
    ),
    Family(9, ("tv", "set-top-box"),
        ("TV box", "4K set-top box", "Recorder box", "Streaming stick"),
        ("freezes on every channel change", "says No signal on all channels",
         "lost all recordings after a restart", "buffers every evening"),
        (Fix("a cold restart and a full rescan",
             "the channel list was corrupted after last month's frequency change.",
             "Unplug the box at the wall for a full minute|Settings → Installation → Channel "
             "scan|Choose Full scan, not Quick|Re-add your favourites; they do not survive a "
             "rescan"),
         Fix("the HDMI cable needed replacing",
             "box and TV were fighting over HDCP through a cheap HDMI cable.",
             "Try another HDMI port on the TV|Use the certified cable from the box|Turn off "
             "HDMI-CEC on the TV to test|Turn CEC features back on one at a time"),
         Fix("wired it instead of Wi-Fi",
             "the box sits where the Wi-Fi is weakest and the evening rush did the rest.",
             "Run an Ethernet cable (or powerline) to the box|Settings → Network → Wired|Check "
             "the network test shows over 25 Mbit/s|Turn off the box's Wi-Fi")),
    ),
    Family(10, ("mobile", "data"),
        ("Phone", "eSIM", "Dual-SIM phone", "Tablet with a data SIM", "New SIM"),
        ("has full signal but no mobile data", "stopped working abroad",
         "can't send picture messages", "shows SOS only after the SIM swap"),
        (Fix("the APN settings were missing",
             "phones bought abroad do not know our APN, so data never starts.",
             "Settings → Mobile network → Access point names|Add an APN with the values below|"
             "Save, select it, toggle flight mode|MMS needs the MMSC line too",
             _APN),
         Fix("data roaming has two switches",
             "roaming was on in the account app but still off on the phone itself.",
             "Phone: Settings → Mobile network → Data roaming on|Account app: Add-ons → Roaming "
             "allowed|Restart the phone after landing|Still nothing? Pick the partner network "
             "by hand"),
         Fix("reinstalled the eSIM profile from the app",
             "the eSIM profile was suspended during the SIM swap and never came back.",
             "Do not delete the old profile unless support says so|Account app → SIM → Reissue "
             "eSIM|Scan the new QR code over Wi-Fi|Give the network 15 minutes to register it")),
    ),
    Family(11, ("billing", "invoice"),
        ("My bill", "Direct debit", "This month's invoice", "Final bill", "Bundle price"),
        ("doubled after the price rise", "was taken twice this month",
         "still shows the old tariff", "arrived after I cancelled"),
        (Fix("proration explained, credit applied",
             "changing plan mid-month bills part of both plans, so one bill looks doubled.",
             "Open the invoice PDF and find the part period lines|Add the two part periods up: "
             "they should make one month|If not, ask the chat for a billing review|Credit shows "
             "on the next bill"),
         Fix("the second charge was a card check",
             "updating my card details triggered a pending check that drops off by itself.",
             "See if the second charge is pending in your banking app|Pending card checks "
             "vanish within 5 working days|If it settles, send a screenshot via the billing "
             "form|Ask for a refund reference"),
         Fix("the loyalty discount had expired",
             "the 12-month discount ended quietly; the tariff had not changed at all.",
             "Account → Plan → Discounts shows the end date|Ask the chat for retention|Mention "
             "what new customers pay; they matched it|Get the new price by email")),
    ),
    Family(12, ("outage", "status"),
        ("Whole street", "Fibre in the north of town", "Internet and TV", "Our village"),
        ("has been down since the storm", "goes out every night between 1 and 5 am",
         "went offline after the roadworks", "drops for a minute every hour"),
        (Fix("check the status page and claim credit",
             "it was a known outage; the status page had it before the phone lines did.",
             "Check the status page with your postcode|Subscribe to SMS updates|Once fixed, "
             "claim compensation under Account → Claims|Note dates and times"),
         Fix("it was planned night-time work",
             "the night outages were planned upgrades, listed a week ahead.",
             "Status page → Planned work|Sign up for notices for your postcode|If it runs past "
             "the window, report a fault|Ask for credit after two overruns"),
         Fix("report a fault, not a complaint",
             "a fault report gets an engineer ticket; a complaint just gets a letter.",
             "Run the line test in the app first, router on|Choose Report a fault and attach "
             "the result|Write down the ticket number (starts `FLT-`)|Chase with that number",
             _PING)),
    ),
    Family(13, ("email",),
        ("Email in Outlook", "Webmail", "Thunderbird", "iPhone Mail", "Email on Android"),
        ("stopped sending (receiving still works)", "asks for my password every few minutes",
         "sends but everything lands in spam", "shows certificate warnings"),
        (Fix("SMTP on port 587 with STARTTLS",
             "port 25 is blocked on home lines and the old settings still used it.",
             "Open the account settings in your mail app|Use the server settings below|Tick My "
             "outgoing server requires authentication|Send yourself a test",
             _MAIL),
         Fix("an app password after turning on 2FA",
             "with two-step verification on, mail apps need their own password.",
             "Webmail → Security → App passwords|Create one named after the app|Paste it in "
             "place of your normal password|Delete app passwords you don't use"),
         Fix("the server name had changed",
             "mail moved to new servers and the certificate only covers the new name.",
             "Replace `mail.oldisp.example` with `imap.mail.example.net`|Do the same for the "
             "outgoing server|Never accept certificate warnings: they mean a wrong name|Restart "
             "the app",
             _MAIL)),
    ),
    Family(14, ("voip", "landline"),
        ("Home phone", "VoIP handset", "Digital voice adapter", "Cordless phone"),
        ("has no dial tone after switching to fibre", "has one-way audio on calls",
         "drops calls after exactly 15 minutes", "rings once and then goes silent"),
        (Fix("plug it into the router, not the wall",
             "after the fibre switch the wall socket is dead; the line comes from the router.",
             "Unplug the phone base from the wall socket|Plug it into the router's Phone 1 port|"
             "Wait a minute for the line to register|Call your mobile to test"),
         Fix("turned off SIP ALG",
             "the router's SIP ALG rewrote the call setup and broke the audio path.",
             "Open Advanced → NAT / ALG|Untick SIP ALG|Reboot router and adapter|Test a call "
             "longer than 15 minutes"),
         Fix("a firmware update for the adapter",
             "the adapter's old firmware did not renew its registration in time.",
             "Open the adapter page (address on the router's device list)|System → Firmware → "
             "Check now|Let it reboot on its own|Test incoming calls")),
    ),
)
# fmt: on
